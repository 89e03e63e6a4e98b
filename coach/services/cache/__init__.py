"""The coach's two caches: an exact short-TTL answer cache and a semantic (vector) cache, both failing open;
and the questions' embeddings, kept so the same question is embedded once (question.py).

The ask pipeline's steps 2 and 3 (issue 6). Everything the rest of the service calls is here.
"""

from config.health import readiness_extra

from .exact import ExactScope, Payload, exact_cache_get, exact_cache_set, question_fingerprint
from .question import QuestionCached, aquestion_cached, aquestion_keep, question_vector_key
from .semantic import (
    SemanticHit,
    asemantic_cache_backend,
    asemantic_cache_lookup,
    asemantic_cache_store,
    semantic_cache_backend,
    semantic_cache_evict_answer,
    semantic_cache_evict_document,
    semantic_hit_choose,
)

__all__ = [
    "ExactScope",
    "Payload",
    "QuestionCached",
    "SemanticHit",
    "aquestion_cached",
    "aquestion_keep",
    "asemantic_cache_backend",
    "asemantic_cache_lookup",
    "asemantic_cache_store",
    "exact_cache_get",
    "exact_cache_set",
    "question_fingerprint",
    "question_vector_key",
    "semantic_cache_backend",
    "semantic_cache_evict_answer",
    "semantic_cache_evict_document",
    "semantic_hit_choose",
]


@readiness_extra
def _semantic_cache_readiness() -> dict[str, str]:
    """/readyz says whether the semantic cache runs: "redis", "off" (Redis has no search module) or
    "unavailable" (Redis cannot be reached to tell)."""
    return {"semantic_cache": semantic_cache_backend()}
