"""The semantic cache on a RediSearch vector index (HNSW, COSINE) through redis-py's search API.

Stores and lookups are async (the ask view); eviction and the module probe also run sync (a
feedback's on_commit, a changed document's signal, /readyz).

Entries are hashes under one key prefix per embedding dimension; the index scopes them with TAG
fields (game, category, language, embedding model, knowledge-tag digest) and carries the document
and answer ids each entry came from, for eviction. Each hash expires by itself (PEXPIRE) and also
stores its expiry, which the query filters on, so a key that expired but was not yet reclaimed is
never served. Queries are built here once (redis.commands.search Query) and sent by either client's
ft(); FLUSHDB drops the index with the keys, so a missing index is recreated instead of being an error.

A store sends FT.CREATE along with the entry only until this process has seen the index (a lookup
that found it, or made it): FT.CREATE cost the store's round trip 0.1-0.2 ms on every
store. Should the index vanish after that (FLUSHALL), entries stored meanwhile are not lost:
the next lookup finds it missing and makes it again, and RediSearch indexes the keys already under
its prefix as it does so.
"""

from __future__ import annotations

import json
import re
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import redis
import redis.asyncio
from django.conf import settings
from redis.commands.search.field import Field, NumericField, TagField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query
from redis.commands.search.result import Result

from .clients import redis_async, redis_sync
from .exact import Payload

PREFIX = "gc:coach:semantic"
BATCH = 500
# A TAG cannot be empty and a lone "_" is a query syntax error: this stands for "no category/tags".
NONE = "__none__"
_NO_INDEX = ("no such index", "unknown index name")
_TAG_SPECIAL = re.compile(r"([^\w])")
_indexes_seen: set[str] = set()  # index names this process found or made (module docstring)


def indexes_forget() -> None:
    """Forget having seen any index: the next store sends FT.CREATE again (the tests' Redis is
    flushed before each test)."""
    _indexes_seen.clear()


@dataclass(frozen=True)
class Scope:
    game: str
    category: str
    language: str
    model_name: str
    filters: str


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    question: str
    distance: float
    payload: Payload
    document_ids: tuple[str, ...]
    answer_ids: tuple[str, ...]


class EntryFields(TypedDict):
    """What an entry holds besides its TTL (astore's keyword arguments)."""

    scope: Scope
    question: str
    embedding: list[float]
    payload: Payload
    document_ids: list[str]
    answer_ids: list[str]


QueryParams = dict[str, str | int | float | bytes]  # FT.SEARCH's PARAMS
# A search result's document as redis-py gives it (Document.__dict__): its fields, its id, its payload.
Values = dict[str, Any]


def index_name() -> str:
    return f"{PREFIX}:idx:{settings.EMBEDDING_DIM}"


def key_prefix() -> str:
    return f"{PREFIX}:{settings.EMBEDDING_DIM}:"


def _tag(value: str) -> str:
    """A TAG query value: RediSearch needs punctuation and spaces escaped; empty means NONE."""
    return _TAG_SPECIAL.sub(r"\\\1", value) if value else NONE


def vector_bytes(embedding: list[float]) -> bytes:
    return struct.pack(f"<{len(embedding)}f", *embedding)


def is_missing_index(exc: Exception) -> bool:
    return any(marker in str(exc).lower() for marker in _NO_INDEX)


def index_schema() -> tuple[list[Field], IndexDefinition]:
    """The index's fields and definition. HNSW with EF_CONSTRUCTION 64, not RediSearch's 200: every
    answered miss is inserted, and at 10,000 entries an insert cost Valkey 0.55 ms with 200 and 0.28 ms
    with 64; the cache is read with a distance threshold, which the smaller graph keeps meeting
    (bench/semantic_cache.py, same hit and wrong-hit rates). An index made before keeps its parameters
    until it is dropped.

    A filtered KNN query is answered by brute force over the entries in scope (ADHOC_BF: 0.4 ms at
    2,000 entries, 1.9 ms at 10,000); HYBRID_POLICY BATCHES would be 0.13 ms but loses a rare
    scope's entries behind nearer ones of other scopes (a test in tests/coach/test_cache_semantic.py).
    So knn() walks the graph without the filter first and filters only when it has to."""
    fields: list[Field] = [
        TagField("game"), TagField("category"), TagField("language"), TagField("model"), TagField("filters"),
        TagField("documents", separator=","), TagField("answers", separator=","),
        NumericField("expires"),
        VectorField("embedding", "HNSW", {"TYPE": "FLOAT32", "DIM": settings.EMBEDDING_DIM,
                                          "DISTANCE_METRIC": "COSINE", "M": 16, "EF_CONSTRUCTION": 64}),
    ]  # fmt: skip
    return fields, IndexDefinition(prefix=[key_prefix()], index_type=IndexType.HASH)


def _create_index(client: redis.Redis | redis.asyncio.Redis) -> None:
    """FT.CREATE through `client`: sent by a sync client, queued by a pipeline (sync or async) for its execute."""
    fields, definition = index_schema()
    client.ft(index_name()).create_index(fields, definition=definition)


def _scope_fields(scope: Scope) -> dict[str, str]:
    """A scope as an entry stores it (its TAG fields)."""
    return {"game": scope.game, "category": scope.category or NONE, "language": scope.language,
            "model": scope.model_name, "filters": scope.filters or NONE}  # fmt: skip


def store_mapping(*, scope: Scope, question: str, embedding: list[float], payload: Payload, document_ids: list[str],
                  answer_ids: list[str], ttl: float) -> tuple[str, dict[str, str | bytes]]:  # fmt: skip
    entry_id = uuid.uuid4().hex
    mapping: dict[str, str | bytes] = {
        **_scope_fields(scope), "documents": ",".join(document_ids), "answers": ",".join(answer_ids),
        "expires": f"{time.time() + ttl:.3f}", "question": question,
        # "reply", not "payload": redis-py's search Document takes payload as an argument of its own
        "reply": json.dumps(payload, ensure_ascii=False, default=str),
        "embedding": vector_bytes(embedding),
    }  # fmt: skip
    return entry_id, mapping


_RETURNED = ("question", "reply", "documents", "answers", "distance")
_SCOPE_FIELDS = ("game", "category", "language", "model", "filters", "expires")


def knn_query(*, scope: Scope | None, embedding: list[float], k: int) -> tuple[Query, QueryParams]:
    """The k nearest entries in scope; scope None: the k nearest of the whole index, with their scope."""
    returned: tuple[str, ...]
    if scope is None:
        text, returned = f"*=>[KNN {k} @embedding $vec AS distance]", (*_RETURNED, *_SCOPE_FIELDS)
    else:
        filters = (
            f"@game:{{{_tag(scope.game)}}} @category:{{{_tag(scope.category)}}} "
            f"@language:{{{_tag(scope.language)}}} @model:{{{_tag(scope.model_name)}}} "
            f"@filters:{{{_tag(scope.filters)}}} @expires:[({time.time():.3f} +inf]"
        )
        text, returned = f"({filters})=>[KNN {k} @embedding $vec AS distance]", _RETURNED
    query = Query(text).return_fields(*returned).sort_by("distance", asc=True).paging(0, k).dialect(2)
    return query, {"vec": vector_bytes(embedding)}


def _rows(result: Result) -> list[tuple[str, Values]] | None:
    """A search result's documents as (key, fields), nearest first; None when an entry was reclaimed
    between the index read and the load (it comes back without its fields)."""
    rows = [(doc.id, doc.__dict__) for doc in result.docs]
    if any("reply" not in values for _, values in rows):
        return None
    return rows


def _in_scope(values: Values, scope: Scope, now: float) -> bool:
    expires = float(values.get("expires") or 0)
    return all(values.get(name) == value for name, value in _scope_fields(scope).items()) and expires > now


def nearest_in_scope(result: Result, *, scope: Scope, k: int, within: float) -> list[Candidate] | None:
    """The unfiltered query's answer for this scope, or None when only the filtered query can tell.

    When none of the k nearest entries is within `within`, nothing in scope is (a miss, the usual
    answer). When those within it are all in scope, they are what the filtered query would return
    within it: an in-scope entry missing from the k would be farther than all of them. Only an entry
    of another scope within reach (which could hide an in-scope one beyond the k), or an entry
    reclaimed while it was read, needs the filtered query.
    """
    rows = _rows(result)
    if rows is None:
        return None
    near = [(key, values) for key, values in rows if float(values["distance"]) <= within]
    now = time.time()
    if not all(_in_scope(values, scope, now) for _, values in near):
        return None
    return [_candidate(key, values) for key, values in near[:k]]


def parse_candidates(result: Result) -> list[Candidate]:
    """A search result as candidates, nearest first (entries reclaimed while read left out)."""
    return [_candidate(doc.id, doc.__dict__) for doc in result.docs if "reply" in doc.__dict__]


def _candidate(key: str, values: Values) -> Candidate:
    return Candidate(
        entry_id=key.removeprefix(key_prefix()),
        question=values.get("question", ""),
        distance=float(values["distance"]),
        payload=json.loads(values["reply"]),
        document_ids=tuple(filter(None, values.get("documents", "").split(","))),
        answer_ids=tuple(filter(None, values.get("answers", "").split(","))),
    )


def ids_query(field: str, value: str) -> Query:
    return Query(f"@{field}:{{{_tag(value)}}}").no_content().paging(0, BATCH).dialect(2)


def _store_pipeline(
    pipe: redis.client.Pipeline | redis.asyncio.client.Pipeline, *, ttl: float, fields: EntryFields
) -> tuple[str, bool]:
    """Queue a store on `pipe`: FT.CREATE first while the index is not known to exist (after a
    FLUSHDB, say), then the entry and its TTL. Returns the entry id, and whether FT.CREATE went."""
    entry_id, mapping = store_mapping(ttl=ttl, **fields)
    key = key_prefix() + entry_id
    create = index_name() not in _indexes_seen
    if create:
        _create_index(pipe)
    # redis-py types `mapping` as a Mapping keyed by its whole union of field types, which no dict[str, ...] is.
    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
    pipe.pexpire(key, max(1, int(ttl * 1000)))
    return entry_id, create


def _raise_failed(replies: list[object], *, created: bool) -> None:
    """A store pipeline's replies: "index already exists" is the usual answer to FT.CREATE; any other
    error is raised."""
    if created:
        reply, *replies = replies
        if isinstance(reply, Exception) and "already exists" not in str(reply).lower():
            raise reply
        _indexes_seen.add(index_name())
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


# --- sync ---------------------------------------------------------------------------------------


def _ensure_index(client: redis.Redis) -> None:
    try:
        _create_index(client)
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    _indexes_seen.add(index_name())


def evict(*, field: str, value: str) -> int:
    """Delete every entry whose `field` ("documents" or "answers") holds value; returns how many."""
    client = redis_sync()
    evicted = 0
    while True:
        try:
            keys = [doc.id for doc in client.ft(index_name()).search(ids_query(field, value)).docs]
        except Exception as exc:
            if not is_missing_index(exc):
                raise
            _ensure_index(client)
            return evicted
        if keys:
            evicted += client.delete(*keys)
        if len(keys) < BATCH:
            return evicted


def delete(*, entry_id: str) -> int:
    return redis_sync().delete(key_prefix() + entry_id)


def probe_search_module(client: redis.Redis) -> bool:
    """True when the server answers FT._LIST (RediSearch or a compatible module)."""
    try:
        client.execute_command("FT._LIST")
    except redis.ResponseError:  # "unknown command": a plain Redis/Valkey
        return False
    return True


# --- async --------------------------------------------------------------------------------------


async def _aensure_index(client: redis.asyncio.Redis) -> None:
    fields, definition = index_schema()
    try:
        await client.ft(index_name()).create_index(fields, definition=definition)
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    _indexes_seen.add(index_name())


async def astore(*, ttl: float, **fields: Unpack[EntryFields]) -> str:
    async with redis_async().pipeline(transaction=False) as pipe:
        entry_id, created = _store_pipeline(pipe, ttl=ttl, fields=fields)
        replies = await pipe.execute(raise_on_error=False)
    _raise_failed(replies, created=created)
    return entry_id


async def aknn(*, scope: Scope, embedding: list[float], k: int, within: float) -> list[Candidate]:
    """The nearest entries in scope, for a lookup that keeps only those within `within`.

    First the k nearest of the whole index (a graph walk: 0.1 ms of Valkey at 10,000 entries), then,
    only when that cannot tell (nearest_in_scope), the filtered query, which RediSearch answers by
    computing the distance to every entry in scope (1.9 ms at 10,000).
    """
    client = redis_async()
    index = client.ft(index_name())
    try:
        result = await index.search(*knn_query(scope=None, embedding=embedding, k=k))
        found = nearest_in_scope(result, scope=scope, k=k, within=within)
        if found is None:
            found = parse_candidates(await index.search(*knn_query(scope=scope, embedding=embedding, k=k)))
    except Exception as exc:
        if not is_missing_index(exc):
            raise
        await _aensure_index(client)
        return []
    _indexes_seen.add(index_name())
    return found


async def aprobe_search_module(client: redis.asyncio.Redis) -> bool:
    try:
        await client.execute_command("FT._LIST")
    except redis.ResponseError:
        return False
    return True
