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

import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger("coach.cache")

# What "Redis is unreachable" looks like; anything else (a bad reply) is a bug worth seeing.
REDIS_DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)

_sync_clients: dict[str, redis.Redis] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)
_down_until: dict[str, float] = {}


def cache_redis_url() -> str:
    return settings.COACH_CACHE_REDIS_URL


def _options() -> dict:
    timeout = settings.COACH_CACHE_TIMEOUT_SECONDS
    # RESP2 keeps FT.SEARCH replies a flat list on every server version we parse them from.
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "protocol": 2, "retry_on_timeout": False}


def redis_sync() -> redis.Redis:
    url = cache_redis_url()
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
    """Log a fail-open miss; an unreachable Redis is skipped for a short while."""
    url = cache_redis_url()
    if isinstance(exc, REDIS_DOWN_ERRORS):
        _down_until[url] = time.monotonic() + settings.COACH_CACHE_RETRY_SECONDS
        logger.warning("coach cache: %s skipped, Redis unavailable (%s: %s)", what, type(exc).__name__, exc)
    else:
        logger.error("coach cache: %s failed (%s: %s)", what, type(exc).__name__, exc)
