"""What the ask reads and writes in the cache Redis before and after an answer, one round trip each way.

Before: the exact cache's answer for this player (coach.services.cache.exact) and the question's
embedding, kept for QUESTION_VECTOR_TTL_SECONDS under the embedding model and the question's
normalised text (as the exact cache compares questions), so the same question from another player
is not sent to the embedding provider again. Popular questions ("best jungle path this patch?") come
from many players: each of them then reaches the semantic cache without the provider's round trip
(100-300 ms and a charge with OpenAI; ~1.4 ms of CPU even against a local stand-in).
After: the answer for a resend and the embedding, when they are new. Offline embeddings cost
microseconds and are not kept. Keys hold sha1 digests, never the text; Redis down is a miss.
"""

from __future__ import annotations

import array
import hashlib
import sys
from dataclasses import dataclass

from django.conf import settings

from .clients import redis_async, redis_failed, redis_skipped
from .exact import (
    ExactScope,
    Payload,
    exact_cache_key,
    exact_ttl_ms,
    payload_decode,
    payload_encode,
    question_normalize_exact,
)

VECTOR_KEY_PREFIX = "gc:coach:qvec"


@dataclass(frozen=True)
class QuestionCached:
    answer: Payload | None = None  # the exact cache's payload for this player's resend
    embedding: list[float] | None = None  # the question's, as the model gave it


def question_vector_key(*, model_name: str, question: str) -> str:
    digest = hashlib.sha1(f"{model_name}\n{question_normalize_exact(question)}".encode(), usedforsecurity=False)
    return f"{VECTOR_KEY_PREFIX}:{digest.hexdigest()}"


def _vector_bytes(embedding: list[float]) -> bytes:
    floats = array.array("f", embedding)
    if sys.byteorder == "big":
        floats.byteswap()
    return floats.tobytes()


def _vector(raw: bytes | str | None) -> list[float] | None:
    """A kept embedding, or None when there is none or it is not EMBEDDING_DIM long (the setting changed)."""
    if not isinstance(raw, bytes) or len(raw) != 4 * settings.EMBEDDING_DIM:  # the client never decodes
        return None
    floats = array.array("f", raw)
    if sys.byteorder == "big":
        floats.byteswap()
    return floats.tolist()


async def aquestion_cached(*, scope: ExactScope | None, model_name: str | None, question: str) -> QuestionCached:
    """The exact cache's answer (scope: exact_cache_key's arguments; None for a question that may not
    be answered from it) and the question's kept embedding (model_name None: not kept), in one MGET."""
    keys: list[str] = []
    if scope is not None:
        keys.append(exact_cache_key(**scope))
    if model_name is not None:
        keys.append(question_vector_key(model_name=model_name, question=question))
    if not keys or redis_skipped():
        return QuestionCached()
    try:
        values = await redis_async().mget(keys)
    except Exception as exc:  # fail open: any cache failure is a miss
        redis_failed("exact answer and embedding get", exc)
        return QuestionCached()
    answer = payload_decode(values.pop(0)) if scope is not None else None
    if answer is not None or model_name is None:  # a resend needs no embedding
        return QuestionCached(answer=answer)
    return QuestionCached(embedding=_vector(values[0]))


async def aquestion_keep(*, scope: ExactScope | None = None, payload: Payload | None = None,
                         model_name: str | None = None, question: str = "",
                         embedding: list[float] | None = None) -> bool:  # fmt: skip
    """The answer for a resend (scope and payload) and the question's embedding (model_name, question
    and embedding), whichever are given, in one round trip; False if Redis is down."""
    writes: list[tuple[str, str | bytes, int]] = []
    if scope is not None and payload is not None:
        writes.append((exact_cache_key(**scope), payload_encode(payload), exact_ttl_ms(None)))
    if model_name is not None and embedding is not None:
        key = question_vector_key(model_name=model_name, question=question)
        writes.append((key, _vector_bytes(embedding), max(1, int(settings.QUESTION_VECTOR_TTL_SECONDS * 1000))))
    if not writes or redis_skipped():
        return False
    try:
        if len(writes) == 1:
            key, value, ttl_ms = writes[0]
            await redis_async().set(key, value, px=ttl_ms)
        else:
            async with redis_async().pipeline(transaction=False) as pipe:
                for key, value, ttl_ms in writes:
                    pipe.set(key, value, px=ttl_ms)
                await pipe.execute()
        return True
    except Exception as exc:
        redis_failed("exact answer and embedding set", exc)
        return False
