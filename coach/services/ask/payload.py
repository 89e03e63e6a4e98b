"""What an ask answers with: text deltas (streaming) and the response payload, from its log row."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from coach.models import QuestionLog
from coach.services import cache
from coach.services.evidence import Evidence


@dataclass(frozen=True)
class Delta:
    text: str


def _money(value: Decimal) -> str:
    """A cost as the customer writes it (0.00225), never in exponent form."""
    text = format(Decimal(value).normalize(), "f")
    return text if text != "-0" else "0"


def _source(hit: Evidence) -> dict[str, str | int | float]:
    source: dict[str, str | int | float] = {
        "document_id": hit.document_id, "title": hit.title, "url": hit.url, "chunk_id": hit.chunk_id,
    }  # fmt: skip
    if hit.start_time is not None:
        source["start_time"] = hit.start_time
    return source


def _payload(log: QuestionLog) -> cache.Payload:
    return {
        "id": str(log.id),
        "answer": log.answer,
        "sources": log.sources,
        "cache": log.cache,
        "model": log.model,
        "usage": {
            "prompt_tokens": log.prompt_tokens,
            "completion_tokens": log.completion_tokens,
            "cached_tokens": log.cached_tokens,
            "reasoning_tokens": log.reasoning_tokens,
        },
        "cost_usd": _money(log.cost_usd),
        "conversation_id": str(log.conversation_id) if log.conversation_id else None,
        "grounded": log.grounded,
    }


def _hit_payload(log: QuestionLog) -> cache.Payload:
    """A cache hit's payload: the reused answer under this ask's own id, no tokens, no cost."""
    payload = _payload(log)
    payload["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "reasoning_tokens": 0}
    payload["cost_usd"] = "0"
    return payload
