"""The ask pipeline's steps, in question_ask_events: exact cache, embedding, semantic cache, admission
with retrieval, the LLM call, the caches written with the log row."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypedDict, Unpack

import openai
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from ai.embeddings import Embedder, EmbeddingError, get_embedder
from ai.errors import AIError, AITimeout
from ai.llm import timed_out
from billing.plans import Plan
from coach.services import cache
from coach.services.ask.admission import Ask, _admit
from coach.services.ask.payload import Delta, _hit_payload, _payload, _source
from coach.services.ask.records import (
    _error_text,
    _exact_hit_record,
    _log_failure,
    _log_row,
    _log_told,
    _log_write,
    _not_covered_record,
    _semantic_hit_record,
)
from coach.services.evidence import Evidence, evidence_fit
from coach.services.llm.call import chat_completion
from coach.services.llm.result import LLMResult
from config.errors import ApplicationError
from knowledge.retrieval import Retrieval, retrieve

logger = logging.getLogger(__name__)


def _scope(ask: Ask) -> cache.ExactScope:
    """What the exact cache keys an answer by."""
    return {"user_id": ask.user_id, "game": ask.game, "question": ask.question, "category": ask.category,
            "tags": ask.tags}  # fmt: skip


class _Filters(TypedDict):
    """What retrieval is asked (knowledge.retrieval.retrieve's arguments, but k)."""

    game: str
    question: str
    embedding: list[float]
    model_name: str
    category: str | None
    tags: list[str] | None


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
    except (openai.OpenAIError, EmbeddingError) as exc:
        if timed_out(exc):
            raise AITimeout(details={"stage": "embed"}) from exc
        logger.warning("question embedding failed: %s", type(exc).__name__)
        raise AIError(details={"stage": "embed"}) from exc
