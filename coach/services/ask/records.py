"""An ask's log row (QuestionLog) for each way it ends, with its call given back where it failed, and the
same facts told to the metrics and the request's log line."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TypedDict, Unpack

from asgiref.sync import sync_to_async
from django.utils import translation

from billing.services import quota_release
from coach.models import Conversation, QuestionLog
from coach.services import cache
from coach.services.ask.admission import Ask, _admission_read, _admit, _player_read
from coach.services.offline import not_covered_answer
from config.errors import ApplicationError
from config.observability import metrics
from config.observability.context import log_fields_add
from knowledge.retrieval import Retrieval

logger = logging.getLogger(__name__)


class _LogFields(TypedDict, total=False):
    """A QuestionLog's fields that differ by how the ask ended."""

    answer: str
    sources: list[dict[str, str | int | float]]
    grounded: bool
    cache: str
    semantic_entry: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    saved_usd: Decimal
    error_code: str
    error: str


def _not_covered_record(ask: Ask, found: Retrieval) -> QuestionLog:
    """The guides do not cover the question: the player is told so in their language, with topics the
    guides do cover; no LLM is called and the call is given back. Staff see it among the content gaps."""
    suggestions = list(dict.fromkeys(item.hit.title for item in found.ranked))[:3]
    answer = not_covered_answer(question=ask.question, game_name=ask.game_name, suggestions=suggestions)
    log = _log_row(ask, ask.conversation, answer=answer, sources=[], grounded=False)
    _record(ask, log, release=True)
    return log


def _semantic_hit_record(ask: Ask, hit: cache.SemanticHit) -> QuestionLog:
    """A semantic hit's one trip to a worker thread: admission (_admit: a reused answer costs a call,
    as an answer does), then the hit's log row and its new conversation. The yes/no check that
    confirmed the hit (cache.verify), if any, is the row's cost."""
    _admit(ask)
    fields = _reused_fields(hit.payload, QuestionLog.Cache.SEMANTIC, cost_usd=hit.verify_cost_usd)
    fields["semantic_entry"] = hit.entry_id
    log = _log_row(ask, None, **fields)
    _record(ask, log, release=False)
    return log


def _exact_hit_record(ask: Ask, cached: cache.Payload) -> QuestionLog:
    """An exact-cache hit's one trip to a worker thread: the player (401 when gone, as at admission),
    then the hit's log row. No call is reserved: a resend costs nothing, even with none left."""
    _player_read(ask)
    log = _log_row(ask, None, **_reused_fields(cached, QuestionLog.Cache.EXACT))
    _record(ask, log, release=False)
    return log


def _failure_record(ask: Ask, *, error_code: str, error: str) -> QuestionLog:
    """A failed ask's log row, in one trip to a worker thread, with its call given back. One that
    failed before admission (its embedding) reads the player and the conversation first, so a player
    deleted since the token was issued still gets 401 and an unknown conversation 404."""
    if ask.admitted is None:
        _admission_read(ask)
    log = _log_row(ask, ask.conversation, error_code=error_code, error=error)
    _record(ask, log, release=True)
    return log


def _log_row(ask: Ask, conversation: Conversation | None, **fields: Unpack[_LogFields]) -> QuestionLog:
    """The ask's QuestionLog, not written yet (its id is already set); a new question's conversation
    is made with it, and written with it."""
    player, plan = ask.player_and_plan()
    if conversation is None and not ask.conversation_id:
        conversation = Conversation(user=player, game=ask.game)
    ask.stage_ms["total"] = round((time.perf_counter() - ask.started) * 1000, 2)
    return QuestionLog(
        user=player, conversation=conversation, game=ask.game, category=ask.category or "", tags=ask.tags,
        plan=plan.name, question=ask.question, latency_ms=int(ask.stage_ms["total"]), stage_ms=ask.stage_ms,
        **fields,
    )  # fmt: skip


def _record(ask: Ask, log: QuestionLog, release: bool) -> None:
    """Give the call back (if asked), then write the log row and its new conversation, if any."""
    if release and ask.reservation is not None:
        quota_release(reservation=ask.reservation)
    conversation = log.conversation  # None without a query when conversation_id is
    if conversation is not None and conversation._state.adding:
        conversation.save()
    log.save()


async def _log_write(ask: Ask, log: QuestionLog) -> QuestionLog:
    """Write the ask's log row, and give the same facts to the metrics and the request's log line."""
    await sync_to_async(_record)(ask, log, False)
    _log_told(ask, log)
    return log


def _log_told(ask: Ask, log: QuestionLog) -> None:
    """A written log row's facts, to the metrics and to the request's log line."""
    if not log.error_code:
        metrics.cache_hit_record(log.cache)
    if log.cache == QuestionLog.Cache.NONE and log.model:
        metrics.llm_usage_record(log.model, log.prompt_tokens, log.completion_tokens, log.cost_usd,
                                 cached_tokens=log.cached_tokens, reasoning_tokens=log.reasoning_tokens)  # fmt: skip
    facts = {"ask_id": str(log.id), "cache": log.cache, "model": log.model, "stage_ms": ask.stage_ms,
             "error_code": log.error_code or None}  # fmt: skip
    log_fields_add(**facts)  # on the request's own log line
    if ask.stream:  # that line was written at the first byte: a line of its own when the answer ends
        logger.info("ask failed" if log.error_code else "ask answered", extra=facts)


async def _log_failure(ask: Ask, *, error_code: str, error: str) -> None:
    """The failed ask's log row (_failure_record), told as any other."""
    _log_told(ask, await sync_to_async(_failure_record)(ask, error_code=error_code, error=error))


def _reused_fields(payload: cache.Payload, kind: str, cost_usd: Decimal = Decimal(0)) -> _LogFields:
    """A cached answer: same text and sources, no answer tokens spent now, the original cost saved
    (`cost_usd`: what reusing it cost, a semantic hit's check; the payload's cost is already net of it)."""
    return {
        "answer": payload["answer"], "sources": payload["sources"], "model": payload["model"],
        "cache": kind, "cost_usd": cost_usd, "saved_usd": Decimal(payload.get("cost_usd") or "0"),
    }  # fmt: skip


def _error_text(exc: ApplicationError) -> str:
    """The player's message plus, for staff reading the log, what failed underneath and how often it was tried."""
    parts = []
    cause = exc.__cause__
    if cause is not None:
        status, code = getattr(cause, "status_code", None), getattr(cause, "code", None)
        parts.append(" ".join(str(part) for part in (type(cause).__name__, status, code) if part))
    attempts = exc.details.get("attempts")
    if attempts:
        parts.append(f"{attempts} attempt" + ("s" if attempts != 1 else ""))
    with translation.override("en"):  # the log row is for staff, in one language whatever the player's
        message = str(exc.message)
    return f"{message} ({'; '.join(parts)})" if parts else message
