"""Rate limits besides the plan quotas: DRF throttles counted in Redis per user, per client IP and per scope.

Each limit is a sliding window log in a Redis sorted set, checked and updated by one Lua script on
the server's clock: atomic (simultaneous requests cannot all pass on one stale read, as they can
with DRF's read-then-write SimpleRateThrottle), the same for every process, and refused requests
are not counted. 429 `throttled` with Retry-After comes from config.errors.

Fail safe, not open: when Redis cannot be reached the same limits are counted in this process's
memory instead, never "unlimited", and Redis is skipped for THROTTLE_REDIS_RETRY_SECONDS so a dead
Redis costs no time per request (after a timeout on the event loop, only once a PING from a worker
thread finds it down: config.redis_probe). With N server processes a client may then get up to N x the
limit (each process counts on its own), which is bounded; when Redis answers again, it is the
counter once more. The client IP is REMOTE_ADDR unless THROTTLE_NUM_PROXIES says how many proxies
of ours append to X-Forwarded-For; a client-sent X-Forwarded-For is never trusted on its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
import weakref
from collections import deque

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript, Script
from redis.retry import Retry
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from config.redis_probe import probe_soon, timed_out_on_loop

logger = logging.getLogger(__name__)

# Unreachable, timing out, or refusing writes (OOM, a read-only replica): all mean "count in memory".
_REDIS_FAILED = (redis.RedisError, OSError)
# KEYS the windows' keys; ARGV window_ms and limit for each key, then the member. Returns {allowed, wait_ms}:
# a request is counted in every window or, when any of them is full, in none.
_SLIDING_WINDOWS = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 * i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, oldest[2] and (tonumber(oldest[2]) + window - now) or window, 1)
  end
end
if wait > 0 then
  return {0, wait}
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[#ARGV])
  redis.call('PEXPIRE', key, ARGV[2 * i - 1])
end
return {1, 0}
"""
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Window = tuple[str, int, int]  # (key, limit, seconds)

_clients: dict[str, redis.Redis] = {}
_scripts: dict[str, Script] = {}
# redis.asyncio connections belong to the loop that opened them: one client per (loop, URL).
_async_scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncScript]] = (
    weakref.WeakKeyDictionary()
)
_down_until: dict[str, float] = {}
_clients_lock = threading.Lock()


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """Parse "120/min" into (120, 60): DRF's format (s, sec, m, min, h, hour, d, day), optionally "10/5s"."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    digits = "".join(ch for ch in period if ch.isdigit()) or "1"
    unit = period.lstrip("0123456789")[:1]
    return int(count), int(digits) * _PERIODS[unit]


def _redis_url() -> str:
    return settings.THROTTLE_REDIS_URL


def _client() -> tuple[redis.Redis, Script]:
    url = _redis_url()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, **_timeouts(), retry=Retry(NoBackoff(), 0))
            _scripts[url] = client.register_script(_SLIDING_WINDOWS)
        return client, _scripts[url]


def _timeouts() -> dict:
    timeout = settings.THROTTLE_REDIS_TIMEOUT_SECONDS
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


def _async_script(url: str) -> AsyncScript:
    per_loop = _async_scripts.setdefault(asyncio.get_running_loop(), {})
    script = per_loop.get(url)
    if script is None:
        client = redis.asyncio.Redis.from_url(url, **_timeouts(), retry=AsyncRetry(NoBackoff(), 0))
        script = per_loop[url] = client.register_script(_SLIDING_WINDOWS)
    return script


class _MemoryWindows:
    """The same sliding windows in this process's memory: the fallback while Redis is unreachable."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, windows: list[Window]) -> float:
        """0 when allowed (and counted in every window), else the seconds until the next request would be."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            if len(self._hits) > self.MAX_KEYS:
                self._sweep(now, max(seconds for _, _, seconds in windows))
            for key, limit, seconds in windows:
                hits = self._hits.setdefault(key, deque())
                while hits and hits[0] <= now - seconds:
                    hits.popleft()
                if len(hits) >= limit:
                    wait = max(wait, hits[0] + seconds - now if hits else seconds)
            if wait:
                return wait
            for key, _, _ in windows:
                self._hits[key].append(now)
            return 0.0

    def _sweep(self, now: float, window: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[key]

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


memory_windows = _MemoryWindows()


def _script_args(windows: list[Window]) -> dict:
    args = [value for _, limit, seconds in windows for value in (seconds * 1000, limit)]
    return {"keys": [f"throttle:{key}" for key, _, _ in windows], "args": [*args, uuid.uuid4().hex]}


def _wait_seconds(allowed, wait_ms) -> float:
    """The script's {allowed, wait_ms} as throttle_hits answers: 0, or the seconds to wait."""
    return 0.0 if allowed else max(int(wait_ms), 1) / 1000


def _redis_up(url: str) -> bool:
    return _down_until.get(url, 0.0) <= time.monotonic()


def _redis_down(url: str, exc: BaseException) -> None:
    _down_until[url] = time.monotonic() + settings.THROTTLE_REDIS_RETRY_SECONDS
    logger.warning("rate limits counted in process memory: Redis unavailable (%s)", type(exc).__name__)


def probe_name(url: str) -> str:
    return f"rate limits {url}"


def _redis_failed(url: str, exc: BaseException) -> None:
    """Redis did not count a request: skip it for THROTTLE_REDIS_RETRY_SECONDS, except after a timeout on
    the event loop, where only that request is counted in memory and a PING from a worker thread
    decides (config.redis_probe: a loop busy past the timeout is not a Redis outage)."""
    if timed_out_on_loop(exc):
        logger.warning("rate limits: Redis timed out on the event loop (%s); checking it from a thread", exc)
        probe_soon(probe_name(url), _client()[0].ping, lambda error: _redis_down(url, error))
    else:
        _redis_down(url, exc)


def throttle_hits(windows: list[Window]) -> float:
    """Count one request in every window, or in none when one is full; 0 when allowed, else seconds
    to wait. One Redis round trip for all of them; process memory while Redis is down."""
    if not windows:
        return 0.0
    url = _redis_url()
    if _redis_up(url):
        try:
            _, script = _client()
            return _wait_seconds(*script(**_script_args(windows)))
        except _REDIS_FAILED as exc:
            _redis_down(url, exc)
    return memory_windows.hit(windows)


async def athrottle_hits(windows: list[Window]) -> float:
    """throttle_hits for the event loop (redis.asyncio): no worker thread, no blocking socket."""
    if not windows:
        return 0.0
    url = _redis_url()
    if _redis_up(url):
        try:
            return _wait_seconds(*await _async_script(url)(**_script_args(windows)))
        except _REDIS_FAILED as exc:
            _redis_failed(url, exc)
    return memory_windows.hit(windows)


class RedisRateThrottle(BaseThrottle):
    """A sliding-window limit for `scope` (rate from DEFAULT_THROTTLE_RATES); subclasses choose the key."""

    scope: str = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def rate_for(self, view) -> tuple[int, int] | None:
        # djangorestframework-stubs types the rates as numbers; DRF's are "N/period" strings.
        return parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))  # type: ignore[arg-type]

    def key_for(self, request, view) -> str | None:
        raise NotImplementedError

    def window_for(self, request, view) -> Window | None:
        """This limit's window for the request, or None when it does not apply."""
        rate = self.rate_for(view)
        key = self.key_for(request, view) if rate is not None else None
        if rate is None or key is None:
            return None
        limit, seconds = rate
        return f"{self.scope}:{key}", limit, seconds

    def allow_request(self, request, view) -> bool:
        window = self.window_for(request, view)
        self._wait = throttle_hits([window]) if window else 0.0
        return self._wait == 0

    def wait(self) -> float | None:
        return self._wait

    def client_ip(self, request) -> str:
        return self.get_ident(request) or "unknown"


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


class UserRateThrottle(RedisRateThrottle):
    """Every API request of a signed-in player (rate "user")."""

    scope = "user"

    def key_for(self, request, view) -> str | None:
        user_id = _user_id(request)
        return None if user_id is None else f"u{user_id}"


class IPRateThrottle(RedisRateThrottle):
    """API requests from one client address (rate "ip"): sign-in and refresh floods, many accounts on one host.

    DRF checks permissions first, so an anonymous request to an endpoint that needs a sign-in is
    refused 401 before any limit counts it; that refusal costs one signature check and no query.
    """

    scope = "ip"

    def key_for(self, request, view) -> str | None:
        return self.client_ip(request)


class ScopedRateThrottle(RedisRateThrottle):
    """A stricter limit for views that set `throttle_scope` (the ask endpoint: "ask"), per user, else per IP."""

    def rate_for(self, view) -> tuple[int, int] | None:
        self.scope = getattr(view, "throttle_scope", "") or ""
        return super().rate_for(view) if self.scope else None

    def key_for(self, request, view) -> str | None:
        user_id = _user_id(request)
        return f"u{user_id}" if user_id is not None else f"ip{self.client_ip(request)}"
