"""The ask pipeline: exact cache, embedding, semantic cache, admission, retrieval, LLM, one QuestionLog per ask.

The token was checked on the event loop; the exact cache is read there too, with the question's
kept embedding (coach.services.cache.question). A hit is one trip to a worker thread: the player
(with their plan and calls left) and the hit's log row; a resend costs no call, even with none
left. Otherwise the question is embedded (unless another player's same question was) and the
semantic cache asked, on the loop, and then admission: the player, the conversation it continues,
and one call of the plan reserved (429 quota_exceeded when none is left), in the same trip to a
worker thread as the semantic hit's log row or the miss's retrieval. The pipeline gives the call
back when the answer fails. JSON and SSE share every step: `question_ask_events` yields text deltas
and ends with the response payload.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict, Unpack

import openai
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import User
from ai.embeddings import Embedder, EmbeddingError, get_embedder
from ai.errors import AIError, AITimeout
from billing.errors import QuotaExceeded
from billing.plans import Plan
from billing.selectors import user_with_plan_usage, users_plan_usage
from billing.services import QuotaReservation, quota_release, quota_reserve
from config.errors import ApplicationError
from config.observability import metrics
from config.observability.context import log_fields_add
from knowledge.retrieval import Retrieval, retrieve

from .. import selectors
from ..models import Conversation, QuestionLog
from . import cache
from .evidence import Evidence, evidence_fit
from .llm import LLMResult, chat_completion
from .offline import not_covered_answer

logger = logging.getLogger(__name__)


@dataclass
class Ask:
    user_id: int  # the token's; the player is read from the database at admission (_player_read)
    game: str
    game_name: str
    question: str
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    conversation_id: uuid.UUID | None = None
    player: User | None = None  # read with their plan and calls left (_player_read)
    reservation: QuotaReservation | None = None  # made at admission unless the exact cache answers
    admitted: bool | None = None  # None: admission not tried yet; False: refused (or failed) there; True: call reserved
    conversation: Conversation | None = None  # the one it continues, read at admission (None: a new one)
    history: list[tuple[str, str]] = field(default_factory=list)  # that conversation's last turns, oldest first
    plan: Plan | None = None
    calls_left: int | None = None  # before this question, as read with the player
    stream: bool = False
    not_covered: QuestionLog | None = None  # the guides do not cover it: its log row, written at retrieval
    stage_ms: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def player_and_plan(self) -> tuple[User, Plan]:
        """The player and their plan, read before anything is reserved or logged (_player_read)."""
        if self.player is None or self.plan is None:
            raise RuntimeError("the player is read before anything is reserved or logged")
        return self.player, self.plan

    def plan_remaining(self) -> int | None:
        """The plan's calls left after this question (X-Plan-Remaining), or None before the player was read."""
        if self.reservation is not None:
            return self.reservation.remaining + (1 if self.reservation.released else 0)
        return self.calls_left

    def lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_ms[stage] = round((now - since) * 1000, 2)
        return now


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


def _conversation_with_turns(*, user: User, conversation_id: uuid.UUID) -> tuple[Conversation, list[tuple[str, str]]]:
    conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
    turns = selectors.conversation_turns(conversation_id=conversation.id, limit=settings.COACH_HISTORY_TURNS)
    return conversation, turns


def _scope(ask: Ask) -> cache.ExactScope:
    """What the exact cache keys an answer by."""
    return {"user_id": ask.user_id, "game": ask.game, "question": ask.question, "category": ask.category,
            "tags": ask.tags}  # fmt: skip


def ask_player(*, user_id: int) -> tuple[User, dict[str, Any]]:
    """The token's player and their plan's usage (billing.selectors.users_plan_usage), in one query;
    AuthenticationFailed (401) when they were deleted or deactivated since the token was issued."""
    user = user_with_plan_usage(user_id=user_id)
    if user is None:
        raise AuthenticationFailed("User not found", code="user_not_found")
    if not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    return user, users_plan_usage(user)


def _player_read(ask: Ask) -> User:
    """The player the token names (ask.player), with ask.plan and ask.calls_left (one query)."""
    ask.player, usage = ask_player(user_id=ask.user_id)
    ask.plan, ask.calls_left = usage["plan"], usage["remaining"]
    return ask.player


def _admission_read(ask: Ask) -> User:
    """The player (ask.player, ask.plan, ask.calls_left) and the conversation the question continues
    (ask.conversation, ask.history), before anything is counted: AuthenticationFailed (401), then
    unknown_conversation (404)."""
    player = _player_read(ask)
    if ask.conversation_id:
        try:
            ask.conversation, ask.history = _conversation_with_turns(user=player, conversation_id=ask.conversation_id)
        except Conversation.DoesNotExist:
            raise ApplicationError(
                _("No such conversation."), code="unknown_conversation", status=404,
                details={"conversation_id": str(ask.conversation_id)},
            ) from None  # fmt: skip
    return player


def _admit(ask: Ask) -> None:
    """Admission, in a worker thread: the player and the conversation (_admission_read), then one call
    of the plan reserved (ask.reservation). Raises AuthenticationFailed (401), unknown_conversation
    (404) and QuotaExceeded (429) before anything is written or counted; ask.admitted says whether it
    got through."""
    started = time.perf_counter()
    ask.admitted = False
    player = _admission_read(ask)
    try:
        ask.reservation = quota_reserve(user=player)
    except QuotaExceeded:
        ask.calls_left = 0  # taken by simultaneous questions since it was read
        raise
    ask.admitted = True
    ask.lap("admit", started)


class _Filters(TypedDict):
    """What retrieval is asked (knowledge.retrieval.retrieve's arguments, but k)."""

    game: str
    question: str
    embedding: list[float]
    model_name: str
    category: str | None
    tags: list[str] | None


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


class _Call(TypedDict):
    """What the LLM is asked (chat_completion's arguments, but stream)."""

    plan: Plan
    question: str
    game: str
    game_name: str
    sources: list[Evidence]
    history: list[tuple[str, str]]


class _Vector(TypedDict, total=False):
    """The question's embedding to keep (cache.aquestion_keep's arguments), or nothing."""

    model_name: str
    question: str
    embedding: list[float]


def _admit_and_retrieve(ask: Ask, **filters: Unpack[_Filters]) -> Retrieval:
    """A question no cache answered: admission (_admit), then its sources (_retrieve), in one trip to a
    worker thread. When the guides do not cover it, its log row is written there too, with the call
    given back (_not_covered_record)."""
    _admit(ask)
    started = time.perf_counter()
    found = _retrieve(**filters)
    ask.lap("retrieve", started)
    if not found.grounded:
        ask.not_covered = _not_covered_record(ask, found)
    return found


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


async def _side_by_side(*steps: Awaitable[object]) -> None:
    """Run the steps together and let each one finish, then raise the first one's error, if any: the
    caches are written even when the log row fails (and the other way round)."""
    for result in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


async def _answer_keep(ask: Ask, scope: cache.ExactScope, payload: cache.Payload, vector: _Vector) -> None:
    """The answer into the exact cache, for a resend (never one given in a conversation, see above),
    and the question's new embedding (_vector_to_keep), in one round trip."""
    await cache.aquestion_keep(scope=None if ask.conversation_id else scope, payload=payload, **vector)


def _vector_to_keep(ask: Ask, embedder: Embedder, embedding: list[float], found: cache.QuestionCached) -> _Vector:
    """The question's embedding for the next player who asks it, when it is new and cost a call."""
    if found.embedding is not None or not embedder.worth_keeping:
        return {}
    return {"model_name": embedder.model_name, "question": ask.question, "embedding": embedding}


def _reused_fields(payload: cache.Payload, kind: str, cost_usd: Decimal = Decimal(0)) -> _LogFields:
    """A cached answer: same text and sources, no answer tokens spent now, the original cost saved
    (`cost_usd`: what reusing it cost, a semantic hit's check; the payload's cost is already net of it)."""
    return {
        "answer": payload["answer"], "sources": payload["sources"], "model": payload["model"],
        "cache": kind, "cost_usd": cost_usd, "saved_usd": Decimal(payload.get("cost_usd") or "0"),
    }  # fmt: skip


async def question_ask_events(ask: Ask, *, stream: bool) -> AsyncIterator[Delta | cache.Payload]:
    """Run the pipeline; yield Delta(text) pieces (streaming only) and finally the response payload.

    Raises before the first Delta: admission's refusals (401, 404 unknown_conversation, 429
    quota_exceeded), which write nothing, then ApplicationError subclasses (AIError 503/504...),
    which are logged, the reserved call given back, as on every failure.
    """
    ask.stream = stream
    scope = _scope(ask)
    mark = time.perf_counter()
    embedder = get_embedder()
    # A question in a conversation means something only there: it is never answered from either
    # cache (nor stored in the exact one, below). Its embedding means the same anywhere.
    found = await cache.aquestion_cached(
        scope=None if ask.conversation_id else scope, question=ask.question,
        model_name=embedder.model_name if embedder.worth_keeping else None,
    )  # fmt: skip
    mark = ask.lap("exact_cache", mark)
    if found.answer is not None:
        log = await sync_to_async(_exact_hit_record)(ask, found.answer)
        _log_told(ask, log)
        yield _hit_payload(log)
        return
    completed = False
    try:
        embedding = found.embedding or await _question_embedding(embedder, ask.question)
        vector = _vector_to_keep(ask, embedder, embedding, found)
        mark = ask.lap("embed", mark)
        semantic = None
        if not ask.conversation_id:
            semantic = await cache.asemantic_cache_lookup(
                game=ask.game, question=ask.question, embedding=embedding, model_name=embedder.model_name,
                category=ask.category, tags=ask.tags,
            )  # fmt: skip
        ask.lap("semantic_cache", mark)
        if semantic is not None:
            log = await sync_to_async(_semantic_hit_record)(ask, semantic)
            _log_told(ask, log)
            payload = _hit_payload(log)
            await _answer_keep(ask, scope, payload, vector)  # only once the call is counted: a resend costs none
            completed = True
            yield payload
            return

        retrieved = await sync_to_async(_admit_and_retrieve)(
            ask, game=ask.game, question=ask.question, embedding=embedding, model_name=embedder.model_name,
            category=ask.category, tags=ask.tags,
        )  # fmt: skip
        if ask.not_covered is not None:
            _log_told(ask, ask.not_covered)
            payload = _payload(ask.not_covered)
            if stream:
                yield Delta(payload["answer"])
            completed = True
            yield payload
            return
        mark = time.perf_counter()
        _, plan = ask.player_and_plan()
        hits = evidence_fit(question=ask.question, ranked=retrieved.ranked, plan=plan, game=ask.game,
                            game_name=ask.game_name, history=ask.history)  # fmt: skip
        call: _Call = {"plan": plan, "question": ask.question, "game": ask.game, "game_name": ask.game_name,
                       "sources": hits, "history": ask.history}  # fmt: skip
        if stream:
            streamed: LLMResult | None = None
            llm_stream = await chat_completion(**call, stream=True)
            async with llm_stream:
                async for item in llm_stream:
                    if isinstance(item, LLMResult):
                        streamed = item
                    else:
                        yield Delta(item)
            if streamed is None:
                raise RuntimeError("the LLM stream ended without its result")
            result = streamed
        else:
            result = await chat_completion(**call)
        ask.lap("llm", mark)

        sources = [_source(hit) for hit in hits[: result.sources_used]]
        log = _log_row(
            ask, ask.conversation, answer=result.text, sources=sources, model=result.model,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            cached_tokens=result.cached_tokens, reasoning_tokens=result.reasoning_tokens, cost_usd=result.cost_usd,
        )  # fmt: skip
        payload = _payload(log)

        # The answer goes into both caches while its row is written (0.2 ms sooner for a lone player).
        # If the row fails (PostgreSQL gone), the ask fails but the answer stays cached: a resend of the
        # question, which would have cost a call, then comes from the exact cache.
        async def keep() -> None:
            if not ask.history and result.text:
                await cache.asemantic_cache_store(
                    game=ask.game, question=ask.question, embedding=embedding, model_name=embedder.model_name,
                    payload=payload, document_ids=sorted({hit.document_id for hit in hits[: result.sources_used]}),
                    answer_id=str(log.id), category=ask.category, tags=ask.tags,
                )  # fmt: skip
            await _answer_keep(ask, scope, payload, vector)

        await _side_by_side(_log_write(ask, log), keep())
        completed = True
        yield payload
    except ApplicationError as exc:
        completed = True
        if ask.admitted is not False:  # refused at admission: nothing was counted, nothing is written
            await _log_failure(ask, error_code=exc.code, error=_error_text(exc))
        raise
    finally:
        # The client went away mid-answer, or something unexpected broke (admission's 401 and its
        # database errors included, which have nothing to log).
        if not completed and ask.admitted is not False:
            try:
                await _log_failure(ask, error_code="interrupted", error="The answer was not delivered.")
            except Exception:
                logger.exception("could not record an interrupted ask")


def _retrieve(**filters: Unpack[_Filters]) -> Retrieval:
    """The question's sources and whether they cover it (knowledge.retrieval); then the request's
    database connection goes back (to the pool) in the same thread hop, because the LLM call that
    follows may take seconds and a PostgreSQL connection held through it is one that hundreds of
    waiting answers would run out of."""
    try:
        return retrieve(**filters, k=settings.RETRIEVAL_TOP_K)
    finally:
        if not connection.in_atomic_block:  # inside a transaction (a test's) the connection must stay
            connection.close()


async def _question_embedding(embedder: Embedder, question: str) -> list[float]:
    """The question's embedding; the provider failing is the coach being unavailable (503/504), not a 500."""
    try:
        return (await embedder.aembed([question], query=True))[0]
    except openai.APITimeoutError as exc:
        raise AITimeout(details={"stage": "embed"}) from exc
    except (openai.OpenAIError, EmbeddingError) as exc:
        logger.warning("question embedding failed: %s", type(exc).__name__)
        raise AIError(details={"stage": "embed"}) from exc


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


def _hit_payload(log: QuestionLog) -> cache.Payload:
    """A cache hit's payload: the reused answer under this ask's own id, no tokens, no cost."""
    payload = _payload(log)
    payload["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "reasoning_tokens": 0}
    payload["cost_usd"] = "0"
    return payload
