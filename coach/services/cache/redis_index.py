"""The semantic cache on a RediSearch vector index (FT.CREATE ... VECTOR HNSW, COSINE), sync and async.

Entries are hashes under one key prefix per embedding dimension; the index scopes them with TAG
fields (game, category, language, embedding model, knowledge-tag digest) and carries the document
and answer ids each entry came from, for eviction. Each hash expires by itself (PEXPIRE) and also
stores its expiry, which the query filters on, so a key that expired but was not yet reclaimed is
never served. Commands are built and parsed here once and sent by either client. FLUSHDB drops
the index with the keys, so a missing index is recreated instead of being an error.

A store sends FT.CREATE along with the entry only until this process has seen the index (a lookup
that found it, or made it): FT.CREATE cost the store's round trip 0.1-0.2 ms (bench/README.md,
change 27). Should the index vanish after that (FLUSHALL), entries stored meanwhile are not lost:
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

import redis
from django.conf import settings

from .clients import redis_async, redis_sync

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
    payload: dict
    document_ids: tuple[str, ...]
    answer_ids: tuple[str, ...]


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


def create_index_args() -> list:
    """The index. HNSW with EF_CONSTRUCTION 64, not RediSearch's 200: every answered miss is inserted,
    and at 10,000 entries an insert cost Valkey 0.55 ms with 200 and 0.28 ms with 64; the cache is
    read with a distance threshold, which the smaller graph keeps meeting (bench/semantic_cache.py,
    same hit and wrong-hit rates). An index made before keeps its parameters until FT.DROPINDEX.

    A filtered KNN query is answered by brute force over the entries in scope (ADHOC_BF: 0.4 ms at
    2,000 entries, 1.9 ms at 10,000); HYBRID_POLICY BATCHES would be 0.13 ms but loses a rare
    scope's entries behind nearer ones of other scopes (a test in tests/coach/test_cache_semantic.py).
    So knn() walks the graph without the filter first and filters only when it has to."""
    return [
        "FT.CREATE", index_name(), "ON", "HASH", "PREFIX", "1", key_prefix(), "SCHEMA",
        "game", "TAG", "category", "TAG", "language", "TAG", "model", "TAG", "filters", "TAG",
        "documents", "TAG", "SEPARATOR", ",", "answers", "TAG", "SEPARATOR", ",",
        "expires", "NUMERIC",
        "embedding", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", str(settings.EMBEDDING_DIM),
        "DISTANCE_METRIC", "COSINE", "M", "16", "EF_CONSTRUCTION", "64",
    ]  # fmt: skip


def _scope_fields(scope: Scope) -> dict[str, str]:
    """A scope as an entry stores it (its TAG fields)."""
    return {"game": scope.game, "category": scope.category or NONE, "language": scope.language,
            "model": scope.model_name, "filters": scope.filters or NONE}  # fmt: skip


def store_mapping(*, scope: Scope, question: str, embedding: list[float], payload: dict,
                  document_ids: list[str], answer_ids: list[str], ttl: float) -> tuple[str, dict]:  # fmt: skip
    entry_id = uuid.uuid4().hex
    mapping = {
        **_scope_fields(scope), "documents": ",".join(document_ids), "answers": ",".join(answer_ids),
        "expires": f"{time.time() + ttl:.3f}", "question": question,
        "payload": json.dumps(payload, ensure_ascii=False, default=str),
        "embedding": vector_bytes(embedding),
    }  # fmt: skip
    return entry_id, mapping


_RETURNED = ("question", "payload", "documents", "answers", "distance")
_SCOPE_FIELDS = ("game", "category", "language", "model", "filters", "expires")


def knn_args(*, scope: Scope | None, embedding: list[float], k: int) -> list:
    """The k nearest entries in scope; scope None: the k nearest of the whole index, with their scope."""
    if scope is None:
        query, returned = f"*=>[KNN {k} @embedding $vec AS distance]", (*_RETURNED, *_SCOPE_FIELDS)
    else:
        filters = (
            f"@game:{{{_tag(scope.game)}}} @category:{{{_tag(scope.category)}}} "
            f"@language:{{{_tag(scope.language)}}} @model:{{{_tag(scope.model_name)}}} "
            f"@filters:{{{_tag(scope.filters)}}} @expires:[({time.time():.3f} +inf]"
        )
        query, returned = f"({filters})=>[KNN {k} @embedding $vec AS distance]", _RETURNED
    return [
        "FT.SEARCH", index_name(), query, "PARAMS", "2", "vec", vector_bytes(embedding),
        "SORTBY", "distance", "ASC", "RETURN", str(len(returned)), *returned, "LIMIT", "0", str(k), "DIALECT", "2",
    ]  # fmt: skip


def _rows(reply: list) -> list[tuple[str, dict]]:
    """FT.SEARCH's RESP2 reply [total, key, [field, value, ...], ...] as (key, fields), nearest first."""
    rows = []
    for i in range(1, len(reply), 2):
        fields = reply[i + 1]
        values = {fields[j].decode(): fields[j + 1].decode() for j in range(0, len(fields), 2)}
        if "payload" in values:  # else reclaimed between the index read and the load
            rows.append((reply[i].decode(), values))
    return rows


def _in_scope(values: dict, scope: Scope, now: float) -> bool:
    expires = float(values.get("expires") or 0)
    return all(values.get(name) == value for name, value in _scope_fields(scope).items()) and expires > now


def nearest_in_scope(reply: list, *, scope: Scope, k: int, within: float) -> list[Candidate] | None:
    """The unfiltered query's answer for this scope, or None when only the filtered query can tell.

    When none of the k nearest entries is within `within`, nothing in scope is (a miss, the usual
    answer). When those within it are all in scope, they are what the filtered query would return
    within it: an in-scope entry missing from the k would be farther than all of them. Only an entry
    of another scope within reach (which could hide an in-scope one beyond the k), or an entry
    reclaimed while it was read, needs the filtered query.
    """
    rows = _rows(reply)
    if len(rows) < (len(reply) - 1) // 2:
        return None
    near = [(key, values) for key, values in rows if float(values["distance"]) <= within]
    now = time.time()
    if not all(_in_scope(values, scope, now) for _, values in near):
        return None
    return [_candidate(key, values) for key, values in near[:k]]


def parse_candidates(reply: list) -> list[Candidate]:
    """FT.SEARCH's reply as candidates, nearest first."""
    return [_candidate(key, values) for key, values in _rows(reply)]


def _candidate(key: str, values: dict) -> Candidate:
    return Candidate(
        entry_id=key.removeprefix(key_prefix()),
        question=values.get("question", ""),
        distance=float(values["distance"]),
        payload=json.loads(values["payload"]),
        document_ids=tuple(filter(None, values.get("documents", "").split(","))),
        answer_ids=tuple(filter(None, values.get("answers", "").split(","))),
    )


def ids_query_args(field: str, value: str) -> list:
    return ["FT.SEARCH", index_name(), f"@{field}:{{{_tag(value)}}}", "NOCONTENT", "LIMIT", "0", str(BATCH),
            "DIALECT", "2"]  # fmt: skip


# --- sync ---------------------------------------------------------------------------------------


def _ensure_index(client) -> None:
    try:
        client.execute_command(*create_index_args())
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    _indexes_seen.add(index_name())


def _store_pipeline(pipe, *, ttl: float, fields: dict) -> tuple[str, bool]:
    """Queue a store on `pipe`: FT.CREATE first while the index is not known to exist (after a
    FLUSHDB, say), then the entry and its TTL. Returns the entry id, and whether FT.CREATE went."""
    entry_id, mapping = store_mapping(ttl=ttl, **fields)
    key = key_prefix() + entry_id
    create = index_name() not in _indexes_seen
    if create:
        pipe.execute_command(*create_index_args())
    pipe.hset(key, mapping=mapping)
    pipe.pexpire(key, max(1, int(ttl * 1000)))
    return entry_id, create


def _raise_failed(replies: list, *, created: bool) -> None:
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


def store(*, ttl: float, **fields) -> str:
    """One round trip: the index made if it may be missing, the entry and its TTL."""
    with redis_sync().pipeline(transaction=False) as pipe:
        entry_id, created = _store_pipeline(pipe, ttl=ttl, fields=fields)
        replies = pipe.execute(raise_on_error=False)
    _raise_failed(replies, created=created)
    return entry_id


def knn(*, scope: Scope, embedding: list[float], k: int, within: float) -> list[Candidate]:
    """The nearest entries in scope, for a lookup that keeps only those within `within`.

    First the k nearest of the whole index (a graph walk: 0.1 ms of Valkey at 10,000 entries), then,
    only when that cannot tell (nearest_in_scope), the filtered query, which RediSearch answers by
    computing the distance to every entry in scope (1.9 ms at 10,000; bench/README.md).
    """
    client = redis_sync()
    try:
        reply = client.execute_command(*knn_args(scope=None, embedding=embedding, k=k))
        found = nearest_in_scope(reply, scope=scope, k=k, within=within)
        if found is None:
            found = parse_candidates(client.execute_command(*knn_args(scope=scope, embedding=embedding, k=k)))
    except Exception as exc:
        if not is_missing_index(exc):
            raise
        _ensure_index(client)
        return []
    _indexes_seen.add(index_name())
    return found


def evict(*, field: str, value: str) -> int:
    """Delete every entry whose `field` ("documents" or "answers") holds value; returns how many."""
    client = redis_sync()
    evicted = 0
    while True:
        try:
            reply = client.execute_command(*ids_query_args(field, value))
        except Exception as exc:
            if not is_missing_index(exc):
                raise
            _ensure_index(client)
            return evicted
        keys = reply[1:]
        if keys:
            evicted += client.delete(*keys)
        if len(keys) < BATCH:
            return evicted


def delete(*, entry_id: str) -> int:
    return redis_sync().delete(key_prefix() + entry_id)


def probe_search_module(client) -> bool:
    """True when the server answers FT._LIST (RediSearch or a compatible module)."""
    try:
        client.execute_command("FT._LIST")
    except redis.ResponseError:  # "unknown command": a plain Redis/Valkey
        return False
    return True


# --- async --------------------------------------------------------------------------------------


async def _aensure_index(client) -> None:
    try:
        await client.execute_command(*create_index_args())
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    _indexes_seen.add(index_name())


async def astore(*, ttl: float, **fields) -> str:
    async with redis_async().pipeline(transaction=False) as pipe:
        entry_id, created = _store_pipeline(pipe, ttl=ttl, fields=fields)
        replies = await pipe.execute(raise_on_error=False)
    _raise_failed(replies, created=created)
    return entry_id


async def aknn(*, scope: Scope, embedding: list[float], k: int, within: float) -> list[Candidate]:
    client = redis_async()
    try:
        reply = await client.execute_command(*knn_args(scope=None, embedding=embedding, k=k))
        found = nearest_in_scope(reply, scope=scope, k=k, within=within)
        if found is None:
            reply = await client.execute_command(*knn_args(scope=scope, embedding=embedding, k=k))
            found = parse_candidates(reply)
    except Exception as exc:
        if not is_missing_index(exc):
            raise
        await _aensure_index(client)
        return []
    _indexes_seen.add(index_name())
    return found


async def aevict(*, field: str, value: str) -> int:
    client = redis_async()
    evicted = 0
    while True:
        try:
            reply = await client.execute_command(*ids_query_args(field, value))
        except Exception as exc:
            if not is_missing_index(exc):
                raise
            await _aensure_index(client)
            return evicted
        keys = reply[1:]
        if keys:
            evicted += await client.delete(*keys)
        if len(keys) < BATCH:
            return evicted


async def adelete(*, entry_id: str) -> int:
    return await redis_async().delete(key_prefix() + entry_id)


async def aprobe_search_module(client) -> bool:
    try:
        await client.execute_command("FT._LIST")
    except redis.ResponseError:
        return False
    return True
