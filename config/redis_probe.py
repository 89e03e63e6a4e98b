"""Is a Redis that timed out on the event loop down? A PING from a worker thread decides.

The coach's caches (coach.services.cache.clients) and the rate limits (config.throttles) skip Redis
for a few seconds after it fails as an unreachable server does, so an outage costs one timeout now
and then instead of one per request. A timeout on the event loop is not taken for one at once:
asyncio counts it in loop time, so a loop busy past the timeout (a burst of load) times calls out
against a Redis that answered, and skipping Redis then would turn the caches off, and the shared
rate limits into per-process ones, when load is highest (seen under bin/bench's load). That call fails on its
own (a cache miss; a rate limit counted in process memory) and a PING from a worker thread, timed by
the kernel, decides whether Redis is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

# What "Redis is unreachable" looks like; anything else (a bad reply) is a bug worth seeing.
REDIS_DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)

_probing: set[str] = set()  # names of the probes under way


def timed_out_on_loop(exc: BaseException) -> bool:
    """A redis-py timeout raised on a running event loop: a hung Redis, or only a busy loop."""
    if not isinstance(exc, redis.TimeoutError):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def probe_soon(name: str, ping: Callable[[], object], down: Callable[[BaseException], None]) -> None:
    """Call ping() in the running loop's default executor, one at a time per name; down(exc) when it
    fails as an unreachable Redis does. Callers go on meanwhile."""
    if name in _probing:
        return
    _probing.add(name)
    asyncio.get_running_loop().run_in_executor(None, _probe, name, ping, down)


def probing(name: str) -> bool:
    return name in _probing


def _probe(name: str, ping: Callable[[], object], down: Callable[[BaseException], None]) -> None:
    try:
        ping()
    except REDIS_DOWN_ERRORS as exc:
        down(exc)
    except Exception as exc:  # a bad reply: not an outage, but worth seeing
        logger.error("%s: ping after a timeout failed (%s: %s)", name, type(exc).__name__, exc)
    finally:
        _probing.discard(name)
