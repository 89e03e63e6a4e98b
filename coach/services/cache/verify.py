"""Optional confirmation of a guarded semantic hit by one small model call: "can one answer serve both?"

Off unless OPENAI_API_KEY and SEMANTIC_CACHE_VERIFY_MODEL are both set. The guard has already
passed the candidate; the model is asked yes or no, with one output token. Anything but a clear yes
(no, another word, an error, a timeout) refuses the hit: the question is then answered as a miss,
which costs a call but never serves a wrong answer. What the call cost is the hit's cost_usd in its
QuestionLog and comes off the money the hit saves (coach stats' "saved").

bench/semantic_cache.py measured that it does not pay with the guard on (see the bench's README
section): it adds a model round trip (hundreds of milliseconds) to a hit that otherwise takes a few,
to catch wrong hits the guard already refuses on the labelled pairs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from openai.types import CompletionUsage

logger = logging.getLogger("coach.cache")

VERIFY_SYSTEM = (
    "You check a game coach's answer cache. Two players asked the questions A and B. Reply with one word, "
    "yes or no: does one answer serve both, with the same game, champions, bosses or items in the same roles "
    "(who plays against whom), the same numbers and patch versions, and the same conditions?"
)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    cost_usd: Decimal
    ms: float


def verify_model() -> str:
    """The model that confirms hits, or "" when confirmation is off."""
    if not settings.OPENAI_API_KEY:
        return ""
    model: str = settings.SEMANTIC_CACHE_VERIFY_MODEL
    return model


class _Limits(TypedDict, total=False):
    max_completion_tokens: int
    max_tokens: int
    temperature: float


def _params(model: str) -> _Limits:
    from ai.llm import is_reasoning_model

    if is_reasoning_model(model):  # reasoning tokens count against the limit: leave room for them
        return {"max_completion_tokens": 64}
    return {"max_tokens": 1, "temperature": 0}


def _cost(model: str, usage: CompletionUsage | None) -> Decimal:
    from billing.plans import cost_usd

    if usage is None:
        return Decimal(0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details else 0
    try:
        return cost_usd(model, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                        cached_tokens=cached)  # fmt: skip
    except KeyError:
        logger.error("coach cache: no price for verify model %s; its calls are counted at cost 0", model)
        return Decimal(0)


async def asemantic_hit_verify(*, question: str, cached_question: str, model: str) -> Verdict:
    """Ask `model` whether the answer to cached_question serves question; a refusal on any failure."""
    from ai.llm import async_client

    started = time.perf_counter()
    try:
        response = await async_client().chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": VERIFY_SYSTEM},
                {"role": "user", "content": f"A: {question}\nB: {cached_question}"},
            ],
            timeout=settings.SEMANTIC_CACHE_VERIFY_TIMEOUT_SECONDS,
            **_params(model),
        )
    except Exception as exc:
        ms = (time.perf_counter() - started) * 1000
        logger.warning("coach cache: semantic hit not verified (%s: %s); answered as a miss", type(exc).__name__, exc)
        return Verdict(False, Decimal(0), ms)
    ms = (time.perf_counter() - started) * 1000
    text = (response.choices[0].message.content or "").strip().casefold() if response.choices else ""
    cost = _cost(model, response.usage)
    ok = text.startswith(("yes", "예", "네"))
    logger.info("coach cache: semantic hit %s by %s in %.0f ms, cost %s USD", "confirmed" if ok else "refused",
                model, ms, cost)  # fmt: skip
    return Verdict(ok, cost, ms)
