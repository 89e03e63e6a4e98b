"""The prompt, fitted to the plan: the messages built from the question, its sources and turns (or given),
with the lowest-ranked sources, then the oldest turns, dropped until it is within plan.prompt_tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ai.llm import is_reasoning_model
from ai.tokens import count_tokens_by_line
from billing.plans import Plan
from coach.errors import PromptTooLong
from coach.services.prompt import Turn, history_turns, prompt_build

Message = dict[str, str]  # one chat message: role, content (and optionally name)


def prompt_token_count(messages: Sequence[Mapping[str, object]], model: str) -> int:
    """Prompt tokens as the API bills them: each message's role and content plus OpenAI's framing."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        total += 3 + sum(count_tokens_by_line(str(value), model) for value in message.values())
        total += 1 if "name" in message else 0
    return total


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
