"""A streamed answer (ChatStream): the call opened and retried until its first text, then the rest of
the deltas and one LLMResult; closing it stops the LLM call."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from ai.errors import AIStreamInterrupted, AITimeout
from ai.llm import Tries, ai_error, chat_params, retrying, timed_out
from billing.plans import Plan
from coach.services.llm.fit import _Prompt
from coach.services.llm.result import Attempt, Deltas, LLMResult, Sleep, _result

logger = logging.getLogger(__name__)


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
            except openai.APIConnectionError as exc:
                if timed_out(exc):
                    raise AITimeout(details={"attempts": tries.count}) from exc
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
