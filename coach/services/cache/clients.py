"""Redis clients for the coach caches: one sync pool per URL, one asyncio pool per event loop, failing open.

redis.asyncio connections belong to the loop that opened them, so the async pool is kept per
(loop, URL): uvicorn has one loop per process and shares one pool; a test's short-lived loop gets
its own. After a connection failure a URL is skipped for COACH_CACHE_RETRY_SECONDS, so a Redis
outage costs one timeout now and then instead of one per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TypedDict

import redis
import redis.asyncio
from django.conf import settings

from config.redis_probe import REDIS_DOWN_ERRORS, probe_soon, timed_out_on_loop

logger = logging.getLogger("coach.cache")

_sync_clients: dict[str, redis.Redis] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)
_down_until: dict[str, float] = {}


def cache_redis_url() -> str:
    url: str = settings.COACH_CACHE_REDIS_URL
    return url


class _Options(TypedDict):
    socket_timeout: float
    socket_connect_timeout: float
    protocol: int
    retry_on_timeout: bool


def _options() -> _Options:
    timeout = settings.COACH_CACHE_TIMEOUT_SECONDS
    # RESP2 keeps FT.SEARCH replies a flat list on every server version we parse them from.
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "protocol": 2, "retry_on_timeout": False}


def redis_sync(url: str | None = None) -> redis.Redis:
    url = url or cache_redis_url()
    client = _sync_clients.get(url)
    if client is None:
        client = _sync_clients[url] = redis.Redis.from_url(url, **_options())
    return client


def redis_async() -> redis.asyncio.Redis:
    loop = asyncio.get_running_loop()
    url = cache_redis_url()
    per_loop = _async_clients.setdefault(loop, {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = redis.asyncio.Redis.from_url(url, **_options())
    return client


def redis_skipped() -> bool:
    """True while the cache Redis is in its back-off after a failure: callers treat it as a miss."""
    return _down_until.get(cache_redis_url(), 0.0) > time.monotonic()


def redis_failed(what: str, exc: BaseException) -> None:
    """Log a fail-open miss; an unreachable Redis is skipped for a short while.

    A timeout on the event loop is a miss for that call only, and a PING from a worker thread decides
    whether Redis is down (config.redis_probe: a loop busy past COACH_CACHE_TIMEOUT_SECONDS makes a
    Redis that answered look slow, and skipping the caches then would turn them off when they save
    the most).
    """
    url = cache_redis_url()
    if timed_out_on_loop(exc):
        logger.warning("coach cache: %s timed out on the event loop (%s); checking Redis from a thread", what, exc)
        probe_soon(probe_name(url), redis_sync(url).ping, lambda error: _skip(url, "ping after a timeout", error))
    elif isinstance(exc, REDIS_DOWN_ERRORS):
        _skip(url, what, exc)
    else:
        logger.error("coach cache: %s failed (%s: %s)", what, type(exc).__name__, exc)


def probe_name(url: str) -> str:
    return f"coach cache {url}"


def _skip(url: str, what: str, exc: BaseException) -> None:
    _down_until[url] = time.monotonic() + settings.COACH_CACHE_RETRY_SECONDS
    logger.warning("coach cache: %s skipped, Redis unavailable (%s: %s)", what, type(exc).__name__, exc)
