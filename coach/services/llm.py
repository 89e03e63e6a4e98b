"""The coach's LLM calls: chat completions within the plan's limits, with the plan's fallback model.

Two providers behind one call: the official openai SDK when OPENAI_API_KEY is set (OPENAI_BASE_URL
points it at any OpenAI-compatible server), else an offline provider that composes the answer from
the retrieved sources, so the demo and the tests run anywhere.

    result = await chat_completion(plan=plan, game="elden-ring", question=q, sources=hits, history=turns)

    async with await chat_completion(..., stream=True) as stream:    # closing it stops the LLM call
        async for item in stream:                                      # str deltas, then one LLMResult
            ...
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast, overload

import httpx2
import openai
from django.conf import settings
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from ai.errors import AIStreamInterrupted, AITimeout
from ai.llm import Tries, ai_error, async_client, chat_params, is_reasoning_model, retrying
from ai.tokens import count_tokens, count_tokens_by_line, encoding_for
from billing.plans import Plan, cost_usd
from coach.errors import PromptTooLong
from coach.services.offline import offline_answer
from coach.services.prompt import Turn, history_turns, prompt_build

logger = logging.getLogger(__name__)
T = TypeVar("T")

OFFLINE_MODEL = "offline"
Message = dict[str, str]  # one chat message: role, content (and optionally name)
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class LLMResult:
    """One answer and what it cost. sources_used: the first n sources made it into the prompt (the
    rest were cut to fit the plan); turns_used: how many earlier turns did."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    attempts: int = 1
    fallback_used: bool = False
    finish_reason: str = "stop"
    sources_used: int = 0
    turns_used: int = 0

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


Deltas = AsyncGenerator[str | LLMResult, None]


class ChatStream:
    """A streamed answer: text deltas (str), then one final LLMResult.

    Closing it (async with, aclose(), or cancelling the task that iterates it) closes the HTTP
    stream to the LLM, so a player who hangs up stops the call.
    """

    def __init__(self, generator: Deltas) -> None:
        self._generator = generator

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> str | LLMResult:
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        await self._generator.aclose()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def prompt_token_count(messages: Sequence[Mapping[str, object]], model: str) -> int:
    """Prompt tokens as the API bills them: each message's role and content plus OpenAI's framing."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        total += 3 + sum(count_tokens_by_line(str(value), model) for value in message.values())
        total += 1 if "name" in message else 0
    return total


# --- the prompt, fitted to the plan ---------------------------------------------------------------
@dataclass(frozen=True)
class _Ask:
    question: str
    game: str
    game_name: str | None
    sources: tuple[object, ...]
    history: tuple[Turn, ...]  # oldest first; question mode
    messages: tuple[Message, ...] | None  # prebuilt messages mode


@dataclass(frozen=True)
class _Prompt:
    messages: list[Message]
    tokens: int
    sources_used: int
    turns_used: int


def _fit(ask: _Ask, plan: Plan, model: str) -> _Prompt:
    """The prompt within plan.prompt_tokens: the lowest-ranked sources go first, then the oldest turns."""
    system_role = "developer" if is_reasoning_model(model) else "system"
    limit = plan.prompt_tokens
    if ask.messages is not None:
        return _fit_messages(list(ask.messages), system_role, limit, model)
    sources, turns = len(ask.sources), len(ask.history)
    while True:
        system, user = prompt_build(
            game=ask.game,
            game_name=ask.game_name,
            question=ask.question,
            sources=ask.sources[:sources],
            history=ask.history[len(ask.history) - turns :],
        )
        messages = [{"role": system_role, "content": system}, {"role": "user", "content": user}]
        tokens = prompt_token_count(messages, model)
        if tokens <= limit:
            return _Prompt(messages, tokens, sources, turns)
        if sources:
            sources -= 1
        elif turns:
            turns -= 1
        else:
            raise PromptTooLong(details={"prompt_tokens": tokens, "limit": limit})


def _fit_messages(messages: list[Message], system_role: str, limit: int, model: str) -> _Prompt:
    messages = [{**m, "role": system_role} if m.get("role") in ("system", "developer") else dict(m) for m in messages]
    head = 1 if messages and messages[0]["role"] == system_role else 0
    while True:
        tokens = prompt_token_count(messages, model)
        if tokens <= limit:
            return _Prompt(messages, tokens, 0, (len(messages) - head - 1) // 2)
        if len(messages) - head <= 1:
            raise PromptTooLong(details={"prompt_tokens": tokens, "limit": limit})
        del messages[head]  # the oldest turn after the system message


_retired: dict[tuple[str, str], float] = {}


def _retired_recently(model: str) -> bool:
    until = _retired.get((str(settings.OPENAI_BASE_URL), model))
    return until is not None and until > time.monotonic()


def _mark_retired(model: str) -> None:
    _retired[(str(settings.OPENAI_BASE_URL), model)] = time.monotonic() + settings.LLM_RETIRED_MODEL_SECONDS


Attempt = Callable[[str, _Prompt, bool], Awaitable[T]]  # (model, prompt, fallback_used)


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


def _cost(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> Decimal:
    try:
        return cost_usd(
            model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cached_tokens=cached_tokens
        )
    except KeyError:
        logger.error("no price for model %s in billing.plans.MODEL_PRICES; its calls are logged at cost 0", model)
        return Decimal(0)


def _result(
    *, text: str, model: str, usage: object, prompt: _Prompt, tries: Tries, fallback_used: bool, finish: str | None
) -> LLMResult:
    """The answer and what it cost; `usage` is the reply's usage object as JSON (a dict), or None."""
    usage = usage if isinstance(usage, dict) else {}
    prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt_tokens, int) and isinstance(completion_tokens, int):
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    else:  # a compatible server that reports no usage: count what was sent and received
        prompt_tokens, completion_tokens, cached, reasoning = prompt.tokens, count_tokens(text, model), 0, 0
    return LLMResult(
        text=text,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
        cost_usd=_cost(model, prompt_tokens, completion_tokens, cached),
        attempts=tries.count,
        fallback_used=fallback_used,
        finish_reason=finish or "stop",
        sources_used=prompt.sources_used,
        turns_used=prompt.turns_used,
    )


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


def _ask(
    question: str | None,
    game: str,
    game_name: str | None,
    sources: Sequence[object],
    history: Sequence[object],
    messages: Sequence[Message] | None,
    system: str | None,
    user: str | None,
) -> _Ask:
    if messages is None and question is None and user is not None:
        turns = history_turns(history)
        built = [{"role": "system", "content": system}] if system else []
        for turn in turns:
            built += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}]
        messages = [*built, {"role": "user", "content": user}]
    if messages is not None:
        last_user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        return _Ask(str(last_user or ""), game, game_name, tuple(sources), (), tuple(messages))
    if question is None:
        raise TypeError("chat_completion needs question=..., or messages=..., or user=...")
    return _Ask(question, game, game_name, tuple(sources), tuple(history_turns(history)), None)


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


@dataclass
class _StreamState:
    parts: list[str] = field(default_factory=list)
    usage: dict[str, object] | None = None
    finish: str = ""


async def _next_delta(stream: openai.AsyncStream[ChatCompletionChunk], state: _StreamState) -> str | None:
    """The next piece of answer text, or None at the end; remembers usage and the finish reason."""
    while True:
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            return None
        if chunk.usage:
            state.usage = chunk.usage.model_dump()
        for choice in chunk.choices or ():
            state.finish = choice.finish_reason or state.finish
            if choice.delta is not None and choice.delta.content:
                state.parts.append(choice.delta.content)
                return choice.delta.content


def _stream_attempt(client: openai.AsyncOpenAI, plan: Plan, tries: Tries, sleep: Sleep) -> Attempt[ChatStream]:
    async def attempt(model: str, prompt: _Prompt, fallback_used: bool) -> ChatStream:
        params = chat_params(model, plan.response_tokens)

        async def open_until_first_delta() -> tuple[openai.AsyncStream[ChatCompletionChunk], _StreamState, str | None]:
            # Until the first text arrives nothing reached the player, so a failure is simply retried.
            stream = await client.chat.completions.create(
                model=model,
                # The SDK's TypedDicts per role; ours are the same messages as plain dicts.
                messages=cast("list[ChatCompletionMessageParam]", prompt.messages),
                stream=True,
                stream_options={"include_usage": True},
                **params,
            )
            state = _StreamState()
            try:
                return stream, state, await _next_delta(stream, state)
            except BaseException:
                await stream.close()
                raise

        stream, state, first = await retrying(open_until_first_delta, tries=tries, sleep=sleep)
        return ChatStream(_stream_rest(stream, state, first, model, prompt, tries, fallback_used))

    return attempt


async def _stream_rest(
    stream: openai.AsyncStream[ChatCompletionChunk],
    state: _StreamState,
    first: str | None,
    model: str,
    prompt: _Prompt,
    tries: Tries,
    fallback_used: bool,
) -> Deltas:
    try:
        delta = first
        while delta is not None:
            yield delta
            try:
                delta = await _next_delta(stream, state)
            except openai.APITimeoutError as exc:
                raise AITimeout(details={"attempts": tries.count}) from exc
            except openai.APIConnectionError as exc:
                logger.warning("LLM stream interrupted after %d pieces: %r", len(state.parts), exc)
                raise AIStreamInterrupted(details={"attempts": tries.count}) from exc
            except (openai.OpenAIError, ValueError) as exc:
                raise ai_error(exc, tries) from exc
        yield _result(
            text="".join(state.parts),
            model=model,
            usage=state.usage,
            prompt=prompt,
            tries=tries,
            fallback_used=fallback_used,
            finish=state.finish,
        )
    finally:
        await stream.close()  # on cancellation too: the LLM stops generating for a player who left


# --- the offline provider ----------------------------------------------------------------------------
def _clip_tokens(text: str, limit: int, model: str) -> tuple[str, str]:
    """The text cut to the response limit, as a model stops at max_tokens; with its finish reason."""
    encoding = encoding_for(model)
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text, "stop"
    clipped = encoding.decode(tokens[:limit]).rstrip("\ufffd")
    while clipped and count_tokens(clipped, model) > limit:
        clipped = clipped[:-1]
    return clipped, "length"


def _offline_result(ask: _Ask, plan: Plan, model: str) -> LLMResult:
    prompt = _fit(ask, plan, model)  # the same cut as a real call, so the same sources are cited
    sources = ask.sources[: prompt.sources_used] if ask.messages is None else ask.sources
    text = offline_answer(question=ask.question, sources=sources, game_name=ask.game_name or ask.game or "game")
    text, finish = _clip_tokens(text, plan.response_tokens, model)
    return LLMResult(
        text=text,
        model=OFFLINE_MODEL,
        prompt_tokens=prompt.tokens,
        completion_tokens=count_tokens(text, model),
        finish_reason=finish,
        sources_used=prompt.sources_used if ask.messages is None else len(sources),
        turns_used=prompt.turns_used,
    )


async def _offline_stream(result: LLMResult) -> Deltas:
    for piece in re.findall(r"\S+\s*|\s+", result.text):
        yield piece
    yield result


__all__ = [
    "OFFLINE_MODEL",
    "ChatStream",
    "LLMResult",
    "Turn",
    "async_client",
    "chat_completion",
    "is_reasoning_model",
    "prompt_token_count",
]
