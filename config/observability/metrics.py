"""Prometheus metrics of the service, and the small functions other code calls to record them.

    llm_usage_record(model, prompt_tokens, completion_tokens, cost, cached_tokens=0, reasoning_tokens=0)
    cache_hit_record(kind)              # "exact" | "semantic" (and "none" for an ask no cache answered)
    quota_rejection_record(plan)        # the observability middleware calls it on every 429 quota_exceeded
    revenuecat_event_record(type, outcome)
HTTP requests (by resolved route) are recorded by the middleware, Celery task outcomes by the
signal handlers in worker.py.

With several processes (uvicorn --workers N, Celery's prefork pool) set PROMETHEUS_MULTIPROC_DIR
to an empty directory shared by all of them before they start: prometheus_client then writes each
process's values there and /metrics adds them up (multiprocess mode).
"""

from __future__ import annotations

import os
import re
from decimal import Decimal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

http_requests = Counter(
    "gamecoach_http_requests_total",
    "HTTP requests by method, resolved route and status.",
    ["method", "route", "status"],
)
http_request_duration = Histogram(
    "gamecoach_http_request_duration_seconds",
    "Time until the response (its headers, for a stream) by method and resolved route.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
llm_calls = Counter("gamecoach_llm_calls_total", "Answered LLM calls by model.", ["model"])
llm_tokens = Counter("gamecoach_llm_tokens_total", "LLM tokens by model and kind.", ["model", "kind"])
llm_cost = Counter("gamecoach_llm_cost_usd_total", "LLM cost in USD by model.", ["model"])
coach_cache = Counter(
    "gamecoach_coach_cache_total", "Asks by the cache that answered them (none: no cache did).", ["kind"]
)
quota_rejections = Counter("gamecoach_quota_rejections_total", "Asks refused with quota_exceeded by plan.", ["plan"])
revenuecat_events = Counter(
    "gamecoach_revenuecat_events_total", "RevenueCat webhook events by type and outcome.", ["type", "outcome"]
)
celery_tasks = Counter("gamecoach_celery_tasks_total", "Celery task runs by task and outcome.", ["task", "outcome"])
celery_task_duration = Histogram(
    "gamecoach_celery_task_duration_seconds", "Celery task run time by task.", ["task"], buckets=_LATENCY_BUCKETS
)

CACHE_KINDS = ("none", "exact", "semantic")
# Label values come from code and stored events; keep them short and tame so no caller can blow up
# the number of series.
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.:/<>-]")


def label_value(value, *, limit: int = 60) -> str:
    text = _UNSAFE_LABEL.sub("_", str(value or "unknown"))[:limit]
    return text or "unknown"


def llm_usage_record(
    model: str, prompt_tokens: int, completion_tokens: int, cost: Decimal | float,
    cached_tokens: int = 0, reasoning_tokens: int = 0,
) -> None:  # fmt: skip
    """One answered LLM call: its tokens (prompt includes cached) and its cost in USD."""
    model = label_value(model)
    llm_calls.labels(model).inc()
    for kind, count in (("prompt", prompt_tokens), ("completion", completion_tokens), ("cached", cached_tokens),
                        ("reasoning", reasoning_tokens)):  # fmt: skip
        if count:
            llm_tokens.labels(model, kind).inc(count)
    if cost:
        llm_cost.labels(model).inc(float(cost))


def cache_hit_record(kind: str) -> None:
    """An ask answered by the `exact` or `semantic` cache; `none` counts one no cache answered."""
    coach_cache.labels(kind if kind in CACHE_KINDS else "other").inc()


def quota_rejection_record(plan: str) -> None:
    quota_rejections.labels(label_value(plan, limit=40)).inc()


def revenuecat_event_record(type: str, outcome: str) -> None:
    """One webhook event by RevenueCat type (INITIAL_PURCHASE...) and what we did (processed, ignored, failed...)."""
    revenuecat_events.labels(label_value(type, limit=40), label_value(outcome, limit=30)).inc()


def http_request_record(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} else "other"
    http_requests.labels(method, route, str(status)).inc()
    http_request_duration.labels(method, route).observe(seconds)


def metrics_text() -> bytes:
    """The exposition text: this process's metrics, or every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
