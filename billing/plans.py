"""Plans, models and prices as data: the one place that says what each plan gets and what a call costs.

The built-in table is the customer's (it supersedes their older basic=gpt-3.5-turbo / premium=gpt-4o
table). More plans, or changed limits and models, come from configuration alone: settings.PLANS_EXTRA
(env PLANS_EXTRA_JSON), e.g. a premium plan on gpt-4o, whose price is already in MODEL_PRICES:

    PLANS_EXTRA_JSON='{"premium": {"model": "gpt-4o", "fallback_model": "gpt-4o-mini",
                       "prompt_tokens": 4000, "response_tokens": 1024, "calls": 300,
                       "period": "month", "rank": 30}}'
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FREE = "free"
PERIODS = ("week", "month")

# The customer's names: (prompt tokens, response tokens) and calls per period, per plan.
PLAN_TOKEN_LIMITS: dict[str, tuple[int, int]] = {
    "free": (1_000, 2_000),
    "basic": (2_000, 4_000),
    "basic_special": (2_000, 4_000),
}
PLAN_CALL_LIMITS: dict[str, int] = {
    "free": 30,
    "basic": 200,
    "basic_special": 100,
}
PLAN_PERIODS: dict[str, str] = {
    "free": "week",
    "basic": "week",
    "basic_special": "month",
}
# (model, fallback model, models the player may pick instead). The fallback is used when the provider
# retires or refuses the model; each fallback is a model the product already prices and serves.
PLAN_MODELS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "free": ("gpt-4o-mini", "o4-mini", ("gpt-4o-mini", "o4-mini")),
    "basic": ("gpt-4o-mini", "o4-mini", ("gpt-4o-mini",)),
    "basic_special": ("o4-mini", "gpt-4o-mini", ("o4-mini",)),
}
# When several subscriptions are active at once, the plan with the highest rank wins.
PLAN_RANKS: dict[str, int] = {"free": 0, "basic": 10, "basic_special": 20}

# USD per 1M tokens: (input, cached input, output). None: the model has no such tokens.
# OpenAI's published prices; gpt-4o stays for a premium plan added by configuration.
MODEL_PRICES: dict[str, tuple[Decimal, Decimal | None, Decimal | None]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "o4-mini": (Decimal("1.10"), Decimal("0.275"), Decimal("4.40")),
    "gpt-4o": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
    "text-embedding-3-small": (Decimal("0.02"), None, None),
}
_PER_TOKEN_DIVISOR = Decimal(1_000_000)


@dataclass(frozen=True)
class Plan:
    name: str
    model: str
    fallback_model: str
    prompt_tokens: int
    response_tokens: int
    calls: int
    period: str  # "week" | "month"
    selectable_models: tuple[str, ...] = field(default=())
    rank: int = 0


def _builtin() -> dict[str, dict]:
    return {
        name: {
            "model": PLAN_MODELS[name][0],
            "fallback_model": PLAN_MODELS[name][1],
            "selectable_models": PLAN_MODELS[name][2],
            "prompt_tokens": PLAN_TOKEN_LIMITS[name][0],
            "response_tokens": PLAN_TOKEN_LIMITS[name][1],
            "calls": PLAN_CALL_LIMITS[name],
            "period": PLAN_PERIODS[name],
            "rank": PLAN_RANKS[name],
        }
        for name in PLAN_CALL_LIMITS
    }


def _plan_from(name: str, spec: dict) -> Plan:
    try:
        plan = Plan(
            name=name,
            model=str(spec["model"]),
            fallback_model=str(spec.get("fallback_model") or spec["model"]),
            prompt_tokens=int(spec["prompt_tokens"]),
            response_tokens=int(spec["response_tokens"]),
            calls=int(spec["calls"]),
            period=str(spec["period"]),
            selectable_models=tuple(spec.get("selectable_models") or (spec["model"],)),
            rank=int(spec.get("rank", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"plan {name!r} is incomplete or malformed: {exc!r}") from exc
    if plan.period not in PERIODS:
        raise ImproperlyConfigured(f"plan {name!r}: period must be one of {PERIODS}, not {plan.period!r}")
    for model in (plan.model, plan.fallback_model, *plan.selectable_models):
        if model not in MODEL_PRICES:
            raise ImproperlyConfigured(f"plan {name!r}: model {model!r} has no price in MODEL_PRICES")
    if plan.calls < 0 or plan.prompt_tokens <= 0 or plan.response_tokens <= 0:
        raise ImproperlyConfigured(f"plan {name!r}: limits must be positive")
    return plan


@lru_cache(maxsize=8)
def _plans(extra_json: str) -> dict[str, Plan]:
    specs = _builtin()
    for name, spec in json.loads(extra_json).items():
        specs[name] = {**specs.get(name, {}), **spec}  # an extra entry may override one field of a plan
    return {name: _plan_from(name, spec) for name, spec in specs.items()}


def plans_all() -> dict[str, Plan]:
    """Every configured plan by name: the built-in table plus settings.PLANS_EXTRA."""
    extra = getattr(settings, "PLANS_EXTRA", None) or {}
    if not isinstance(extra, dict):
        raise ImproperlyConfigured("PLANS_EXTRA_JSON must be a JSON object of plan name -> plan")
    return _plans(json.dumps(extra, sort_keys=True))


def plan_get(name: str) -> Plan:
    """The plan called name; KeyError when no such plan is configured."""
    return plans_all()[name]


def cost_usd(model: str, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
    """Exact cost of one call. cached_tokens are the part of prompt_tokens billed at the cached price."""
    if model not in MODEL_PRICES:
        raise KeyError(f"no price for model {model!r}")
    if min(prompt_tokens, completion_tokens, cached_tokens) < 0 or cached_tokens > prompt_tokens:
        raise ValueError("token counts must be >= 0 and cached_tokens <= prompt_tokens")
    input_price, cached_price, output_price = MODEL_PRICES[model]
    if cached_price is None:
        cached_price = input_price
    if completion_tokens and output_price is None:
        raise ValueError(f"model {model!r} produces no output tokens")
    total = (
        (prompt_tokens - cached_tokens) * input_price
        + cached_tokens * cached_price
        + completion_tokens * (output_price or Decimal(0))
    )
    return total / _PER_TOKEN_DIVISOR
