"""The semantic cache: an earlier answer to a near question (same scope, within the threshold, passing the guard).

It runs on Redis's search module (Redis 8, or Valkey with RediSearch), probed once per process and
Redis URL: a Redis whose server does not answer FT._LIST has no search module, and the semantic cache
is off there (the exact cache still works; /readyz says "off"). Everything fails open: an unreachable
store or a failed read of the game's entity index is a logged miss, never an error, and never an
unguarded hit. The caller embeds the question once (the same vector serves
retrieval) and passes it in with the embedder's model name; vectors of different models are never
compared. The raw question's vector is the key, not its canonical form's (coach.services.guard):
with e5 (the offline default) embedding the canonical text gained one held-out pair in 76 (93% ->
95% of same-meaning pairs served, bench/semantic_cache.py) for a second embedding per ask (15-25 ms
of CPU); with the hashed n-grams it gained 8 points, but they are no longer the default. The guard
reads the canonical form instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.conf import settings

from coach.services.guard.check import guard_check
from coach.services.guard.entities import EntityFinder
from knowledge.sentences import question_language

from . import redis_index
from .clients import cache_redis_url, redis_async, redis_failed, redis_skipped, redis_sync
from .exact import Payload
from .redis_index import Candidate, EntryFields, Scope
from .verify import asemantic_hit_verify, verify_model

logger = logging.getLogger("coach.cache")

_has_search: dict[str, bool] = {}  # per Redis URL: whether its server has the search module
# The cosine distance within which a cached question may answer, per embedding model, as
# bench/semantic_cache.py chose it on its dev pairs with the guard on (each model spreads questions
# differently: e5 puts every question of one game within ~0.1 of another). Other models (OpenAI's)
# use SEMANTIC_CACHE_MAX_DISTANCE.
MAX_DISTANCE_BY_MODEL = {"offline-multilingual-e5-small-q4": 0.06, "offline-hash-ngram-v1": 0.28}
Ref = int | str | UUID  # a document's or an answer's id: entries keep it as its string


@dataclass(frozen=True)
class SemanticHit:
    """A cached answer that may be served: `payload` is what semantic_cache_store was given.

    `question` is another player's wording: log it, never show it. The answer served from it keeps
    `entry_id` (QuestionLog.semantic_entry), so a down-vote on that answer evicts the entry too.
    """

    entry_id: str
    answer_ids: tuple[str, ...]
    document_ids: tuple[str, ...]
    question: str
    distance: float
    payload: Payload
    verify_cost_usd: Decimal = Decimal(0)  # the model call that confirmed it (verify.py), if any


# --- the decision (pure; the benchmark calls it too) ---------------------------------------------


def semantic_hit_choose(*, question: str, candidates: list[Candidate], index: EntityFinder | None,
                        max_distance: float, guard: bool = True) -> Candidate | None:  # fmt: skip
    """The nearest candidate within max_distance that the guard lets through, or None. `index`: the
    game's entity names (knowledge.selectors.entity_index)."""
    for candidate in sorted(candidates, key=lambda c: c.distance):
        if candidate.distance > max_distance:
            return None
        if not guard or guard_check(question, candidate.question, index=index).ok:
            return candidate
    return None


def semantic_scope(*, game: str, question: str, model_name: str, category: str | None = None,
                   tags: list[str] | None = None) -> Scope:  # fmt: skip
    """Entries only answer within one game, category, answer language, embedding model and tag filter."""
    filters = ""
    if tags:
        raw = json.dumps(sorted(tags), ensure_ascii=False)
        filters = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]
    return Scope(game=game, category=category or "", language=question_language(question),
                 model_name=model_name, filters=filters)  # fmt: skip


# --- whether it runs ----------------------------------------------------------------------------


def _remember(url: str, has_search: bool) -> str:
    _has_search[url] = has_search
    if has_search:
        logger.info("coach cache: semantic cache on Redis (it has the search module)")
    else:
        logger.warning("coach cache: semantic cache off, Redis lacks the search module (the exact cache still works)")
    return "redis" if has_search else "off"


def _backend_known() -> tuple[str | None, str]:
    """The answer when no probe is needed (remembered, or Redis skipped), and the Redis URL it is kept under."""
    url = cache_redis_url()
    if url in _has_search:
        return ("redis" if _has_search[url] else "off"), url
    return ("unavailable" if redis_skipped() else None), url


def semantic_cache_backend() -> str:
    """ "redis" (its search module answers), "off" (Redis has no search module), or "unavailable" while
    Redis cannot be reached to tell (asked again later)."""
    known, url = _backend_known()
    if known is not None:
        return known
    try:
        return _remember(url, redis_index.probe_search_module(redis_sync()))
    except Exception as exc:
        redis_failed("semantic backend probe", exc)
        return "unavailable"


async def asemantic_cache_backend() -> str:
    known, url = _backend_known()
    if known is not None:
        return known
    try:
        return _remember(url, await redis_index.aprobe_search_module(redis_async()))
    except Exception as exc:
        redis_failed("semantic backend probe", exc)
        return "unavailable"


# --- the names the guard reads ------------------------------------------------------------------


async def _aentities(game: str) -> EntityFinder:
    from knowledge.selectors import aentity_index  # knowledge owns the catalogue; staff edit it in the admin

    return await aentity_index(game)


# --- lookup -------------------------------------------------------------------------------------


def _usable(backend: str, embedding: list[float], model_name: str) -> bool:
    if backend != "redis" or redis_skipped():
        return False
    if len(embedding) != settings.EMBEDDING_DIM or not model_name:
        logger.warning("coach cache: semantic cache skipped, %d-dim vector (expected %d) or no model name",
                       len(embedding), settings.EMBEDDING_DIM)  # fmt: skip
        return False
    return True


def _hit(candidate: Candidate | None, verify_cost_usd: Decimal = Decimal(0)) -> SemanticHit | None:
    if candidate is None:
        return None
    payload = candidate.payload
    if verify_cost_usd:  # the confirmation's cost comes off what the reused answer saves
        saved = max(Decimal(0), Decimal(str(payload.get("cost_usd") or 0)) - verify_cost_usd)
        payload = {**payload, "cost_usd": str(saved)}
    return SemanticHit(entry_id=candidate.entry_id, answer_ids=candidate.answer_ids,
                       document_ids=candidate.document_ids, question=candidate.question,
                       distance=candidate.distance, payload=payload, verify_cost_usd=verify_cost_usd)  # fmt: skip


def _max_distance(model_name: str) -> float:
    default: float = settings.SEMANTIC_CACHE_MAX_DISTANCE
    return MAX_DISTANCE_BY_MODEL.get(model_name, default)


async def asemantic_cache_lookup(
    *,
    game: str,
    question: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
) -> SemanticHit | None:
    """The cached answer for a near question in the same scope, or None (also when the cache is down or off)."""
    backend = await asemantic_cache_backend()
    if not _usable(backend, embedding, model_name):
        return None
    scope = semantic_scope(game=game, question=question, model_name=model_name, category=category, tags=tags)
    k = settings.SEMANTIC_CACHE_CANDIDATES
    try:
        candidates = await redis_index.aknn(scope=scope, embedding=embedding, k=k, within=_max_distance(model_name))
        if not candidates:
            return None
        index = await _aentities(game)
    except Exception as exc:
        redis_failed("semantic lookup", exc)
        return None
    chosen = semantic_hit_choose(question=question, candidates=candidates, index=index,
                                 max_distance=_max_distance(model_name),
                                 guard=settings.SEMANTIC_CACHE_GUARD)  # fmt: skip
    model = verify_model()
    if chosen is None or not model:
        return _hit(chosen)
    verdict = await asemantic_hit_verify(question=question, cached_question=chosen.question, model=model)
    if not verdict.ok:
        return None
    return _hit(chosen, verify_cost_usd=verdict.cost_usd)


# --- store --------------------------------------------------------------------------------------


def _store_fields(*, game: str, question: str, embedding: list[float], model_name: str, payload: Payload,
                  document_ids: Iterable[Ref], answer_id: Ref | None, category: str | None,
                  tags: list[str] | None) -> EntryFields:  # fmt: skip
    scope = semantic_scope(game=game, question=question, model_name=model_name, category=category, tags=tags)
    return {
        "scope": scope,
        "question": question,
        "embedding": embedding,
        "payload": payload,
        "document_ids": sorted({str(d) for d in document_ids}),
        "answer_ids": [str(answer_id)] if answer_id is not None else [],
    }


async def asemantic_cache_store(*, game: str, question: str, embedding: list[float], model_name: str,
                                payload: Payload, document_ids: Iterable[Ref], answer_id: Ref | None = None,
                                category: str | None = None,
                                tags: list[str] | None = None, ttl: float | None = None) -> str | None:  # fmt: skip
    """Keep a freshly generated answer for near questions; returns the entry id, None if not stored.

    document_ids: the knowledge documents the answer's sources came from (eviction when one
    changes); answer_id: the QuestionLog id (eviction on a down-vote). payload: any JSON-able dict.
    """
    backend = await asemantic_cache_backend()
    if not _usable(backend, embedding, model_name):
        return None
    fields = _store_fields(game=game, question=question, embedding=embedding, model_name=model_name,
                           payload=payload, document_ids=document_ids, answer_id=answer_id,
                           category=category, tags=tags)  # fmt: skip
    ttl = settings.SEMANTIC_CACHE_TTL_SECONDS if ttl is None else ttl
    try:
        return await redis_index.astore(ttl=ttl, **fields)
    except Exception as exc:
        redis_failed("semantic store", exc)
        return None


# --- eviction -----------------------------------------------------------------------------------


def _evict(field: str, value: Ref, what: str, entry_id: str = "") -> int | None:
    backend = semantic_cache_backend()
    if backend == "off":
        return 0
    if backend == "unavailable" or redis_skipped():
        logger.error("coach cache: %s %s not evicted, Redis unavailable; entries expire by TTL", what, value)
        return None
    try:
        evicted = redis_index.evict(field=field, value=str(value))
        if entry_id:
            evicted += redis_index.delete(entry_id=entry_id)
    except Exception as exc:
        redis_failed(f"evict {what} {value}", exc)
        return None
    if evicted:
        logger.info("coach cache: evicted %d semantic entries for %s %s", evicted, what, value)
    return evicted


def semantic_cache_evict_document(*, document_id: Ref) -> int | None:
    """Drop every entry answered from this knowledge document (it changed); how many, None if the cache is down."""
    return _evict("documents", document_id, "document")


def semantic_cache_evict_answer(*, answer_id: Ref, entry_id: str = "") -> int | None:
    """Drop the entry holding this answer (a down-vote) and, for an answer served from the cache, the entry
    it came from (`entry_id`: its QuestionLog.semantic_entry)."""
    return _evict("answers", answer_id, "answer", entry_id)
