"""What an LLM call returns and costs: LLMResult, with the usage read from the reply (or counted) and priced
by the plan's model; and the shape of one attempt at it (Attempt)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from ai.llm import Tries
from ai.tokens import count_tokens
from billing.plans import cost_usd
from coach.services.llm.fit import _Prompt

logger = logging.getLogger(__name__)
T = TypeVar("T")

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


Attempt = Callable[[str, _Prompt, bool], Awaitable[T]]  # (model, prompt, fallback_used)


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
