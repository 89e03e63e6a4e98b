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

    A timeout on the event loop is not taken for an outage at once: asyncio counts it in loop time,
    so a loop busy past COACH_CACHE_TIMEOUT_SECONDS (a burst of load) times calls out against a Redis
    that answered. Skipping the caches then would turn them off when they save the most
    (bench/README.md). A PING from a worker thread, timed by the kernel, decides instead.
    """
    url = cache_redis_url()
    if isinstance(exc, redis.TimeoutError) and _on_event_loop():
        logger.warning("coach cache: %s timed out on the event loop (%s); checking Redis from a thread", what, exc)
        _probe_soon(url)
    elif isinstance(exc, REDIS_DOWN_ERRORS):
        _skip(url, what, exc)
    else:
        logger.error("coach cache: %s failed (%s: %s)", what, type(exc).__name__, exc)


def _skip(url: str, what: str, exc: BaseException) -> None:
    _down_until[url] = time.monotonic() + settings.COACH_CACHE_RETRY_SECONDS
    logger.warning("coach cache: %s skipped, Redis unavailable (%s: %s)", what, type(exc).__name__, exc)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_probing: set[str] = set()


def _probe_soon(url: str) -> None:
    """One PING at a time per URL, in the loop's default executor; the caches go on meanwhile."""
    if url in _probing:
        return
    _probing.add(url)
    asyncio.get_running_loop().run_in_executor(None, _probe, url)


def _probe(url: str) -> None:
    try:
        redis_sync(url).ping()
    except REDIS_DOWN_ERRORS as exc:
        _skip(url, "ping after a timeout", exc)
    except Exception as exc:  # a bad reply: not an outage, but worth seeing
        logger.error("coach cache: ping after a timeout failed (%s: %s)", type(exc).__name__, exc)
    finally:
        _probing.discard(url)
