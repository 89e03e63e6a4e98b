"""chat_completion: the call within the plan's limits, with retries, the plan's fallback model once a
model is retired, and usage accounting; offline without OPENAI_API_KEY."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Literal, overload

import httpx2
import openai
from django.conf import settings

from ai.llm import Tries, ai_error, async_client, chat_params, retrying
from billing.plans import Plan
from coach.services.llm.fit import Message, _Ask, _ask, _fit, _Prompt
from coach.services.llm.offline import _offline_result, _offline_stream
from coach.services.llm.result import Attempt, LLMResult, Sleep, T, _result
from coach.services.llm.stream import ChatStream, _stream_attempt

logger = logging.getLogger(__name__)

_retired: dict[tuple[str, str], float] = {}


def _retired_recently(model: str) -> bool:
    until = _retired.get((str(settings.OPENAI_BASE_URL), model))
    return until is not None and until > time.monotonic()


def _mark_retired(model: str) -> None:
    _retired[(str(settings.OPENAI_BASE_URL), model)] = time.monotonic() + settings.LLM_RETIRED_MODEL_SECONDS


async def _with_fallback(ask: _Ask, plan: Plan, model: str, attempt: Attempt[T]) -> T:
    """attempt(model, prompt, fallback_used) on the model, or on the plan's fallback once the model 404s."""
    candidates = [model] if model == plan.fallback_model else [model, plan.fallback_model]
    for index, current in enumerate(candidates):
        last = index == len(candidates) - 1
        if not last and _retired_recently(current):
            logger.warning("LLM model %s was retired recently; using the fallback %s", current, candidates[-1])
            continue
        try:
            return await attempt(current, _fit(ask, plan, current), index > 0)
        except openai.NotFoundError as exc:
            if last:
                raise
            _mark_retired(current)
            logger.error(
                "LLM model %s is retired or unknown (%s); answering with the plan's fallback %s. "
                "Update billing.plans.PLAN_MODELS.",
                current,
                exc.message,
                candidates[-1],
            )
    raise AssertionError("unreachable: the last candidate returns or raises")


# --- chat completion -------------------------------------------------------------------------------
@overload
async def chat_completion(
    *,
    plan: Plan,
    question: str | None = None,
    game: str = "",
    sources: Sequence[object] = (),
    history: Sequence[object] = (),
    game_name: str | None = None,
    model: str | None = None,
    messages: Sequence[Message] | None = None,
    system: str | None = None,
    user: str | None = None,
    stream: Literal[False] = False,
    sleep: Sleep = ...,
) -> LLMResult: ...


@overload
async def chat_completion(
    *,
    plan: Plan,
    question: str | None = None,
    game: str = "",
    sources: Sequence[object] = (),
    history: Sequence[object] = (),
    game_name: str | None = None,
    model: str | None = None,
    messages: Sequence[Message] | None = None,
    system: str | None = None,
    user: str | None = None,
    stream: Literal[True],
    sleep: Sleep = ...,
) -> ChatStream: ...


async def chat_completion(
    *,
    plan: Plan,
    question: str | None = None,
    game: str = "",
    sources: Sequence[object] = (),
    history: Sequence[object] = (),
    game_name: str | None = None,
    model: str | None = None,
    messages: Sequence[Message] | None = None,
    system: str | None = None,
    user: str | None = None,
    stream: bool = False,
    sleep: Sleep = asyncio.sleep,
) -> LLMResult | ChatStream:
    """Answer within the plan: its model (or `model`, one of its selectable models), prompt and response limits.

    Usually: game, question, ranked sources (ChunkHit) and history (earlier turns, oldest first);
    the prompt is built here, so that sources (lowest-ranked first), then the oldest turns, can be
    dropped to fit plan.prompt_tokens. Alternatively prebuilt `messages`, or `system` + `user` (+
    history turns): then only the oldest turns can be dropped.

    stream=False: the LLMResult. stream=True: a ChatStream of str deltas then the LLMResult; the
    connection, retries and fallback happen before this returns, so a failure is still a plain error.
    Raises AIError (503; AITimeout 504) once retries are spent, PromptTooLong (400) when even the
    question alone exceeds the plan's prompt limit.
    """
    ask = _ask(question, game, game_name, sources, history, messages, system, user)
    model = model or plan.model
    if not settings.OPENAI_API_KEY:
        result = _offline_result(ask, plan, model)
        return ChatStream(_offline_stream(result)) if stream else result
    tries = Tries()
    client = async_client()
    try:
        if stream:
            return await _with_fallback(ask, plan, model, _stream_attempt(client, plan, tries, sleep))
        return await _with_fallback(ask, plan, model, _complete_attempt(client, plan, tries, sleep))
    except (openai.OpenAIError, ValueError) as exc:
        raise ai_error(exc, tries) from exc


def _complete_attempt(client: openai.AsyncOpenAI, plan: Plan, tries: Tries, sleep: Sleep) -> Attempt[LLMResult]:
    async def attempt(model: str, prompt: _Prompt, fallback_used: bool) -> LLMResult:
        body = {"model": model, "messages": prompt.messages, **chat_params(model, plan.response_tokens)}
        # The SDK's own request (base URL, auth, timeout, its errors), read as plain JSON: the typed
        # create() re-walks the messages against its TypedDicts and builds a pydantic model of the
        # reply, ~0.6 of the ~1.4 ms of CPU a call cost here (measured with bin/bench).
        response = await retrying(
            lambda: client.post("/chat/completions", body=body, cast_to=httpx2.Response), tries=tries, sleep=sleep
        )
        completion = response.json()  # not JSON: a ValueError, as a reply without choices is
        choices = completion.get("choices") if isinstance(completion, dict) else None
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise ValueError(f"a chat completion without choices: {response.text[:200]!r}")
        choice = choices[0]
        return _result(
            text=(choice.get("message") or {}).get("content") or "",
            model=model,
            usage=completion.get("usage"),
            prompt=prompt,
            tries=tries,
            fallback_used=fallback_used,
            finish=choice.get("finish_reason"),
        )

    return attempt
