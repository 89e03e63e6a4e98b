"""Rate limits besides the plan quotas: DRF throttles counted in Redis per user, per client IP and per scope.

Each limit is a sliding window log in a Redis sorted set, checked and updated by one Lua script on
the server's clock: atomic (simultaneous requests cannot all pass on one stale read, as they can
with DRF's read-then-write SimpleRateThrottle), the same for every process, and refused requests
are not counted. 429 `throttled` with Retry-After comes from config.errors.

Fail safe, not open: when Redis cannot be reached the same limits are counted in this process's
memory instead, never "unlimited", and Redis is skipped for THROTTLE_REDIS_RETRY_SECONDS so a dead
Redis costs no time per request. With N server processes a client may then get up to N x the
limit (each process counts on its own), which is bounded; when Redis answers again, it is the
counter once more. The client IP is REMOTE_ADDR unless THROTTLE_NUM_PROXIES says how many proxies
of ours append to X-Forwarded-For; a client-sent X-Forwarded-For is never trusted on its own.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# Unreachable, timing out, or refusing writes (OOM, a read-only replica): all mean "count in memory".
_REDIS_FAILED = (redis.RedisError, OSError)
# KEYS[1] the window's key; ARGV window_ms, limit, member. Returns {allowed, wait_ms}.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_clients: dict[str, redis.Redis] = {}
_scripts: dict[str, object] = {}
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


def _client() -> tuple[redis.Redis, object]:
    url = _redis_url()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            timeout = settings.THROTTLE_REDIS_TIMEOUT_SECONDS
            client = _clients[url] = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
            )
            _scripts[url] = client.register_script(_SLIDING_WINDOW)
        return client, _scripts[url]


class _MemoryWindows:
    """The same sliding windows in this process's memory: the fallback while Redis is unreachable."""

    MAX_KEYS = 100_000

    def __init__(self):
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> float:
        """0 when allowed (and counted), else the seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > self.MAX_KEYS:
                self._sweep(now, window)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return 0.0
            return hits[0] + window - now

    def _sweep(self, now: float, window: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - window]:
            del self._hits[key]

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


memory_windows = _MemoryWindows()


def throttle_hit(key: str, limit: int, window: int) -> float:
    """Count one request under key; 0 when allowed, else seconds to wait. Redis, or memory when it is down."""
    url = _redis_url()
    if _down_until.get(url, 0.0) <= time.monotonic():
        try:
            _, script = _client()
            allowed, wait_ms = script(keys=[f"throttle:{key}"], args=[window * 1000, limit, uuid.uuid4().hex])
            return 0.0 if allowed else max(int(wait_ms), 1) / 1000
        except _REDIS_FAILED as exc:
            _down_until[url] = time.monotonic() + settings.THROTTLE_REDIS_RETRY_SECONDS
            logger.warning("rate limits counted in process memory: Redis unavailable (%s)", type(exc).__name__)
    return memory_windows.hit(key, limit, window)


class RedisRateThrottle(BaseThrottle):
    """A sliding-window limit for `scope` (rate from DEFAULT_THROTTLE_RATES); subclasses choose the key."""

    scope: str = ""

    def __init__(self):
        self._wait: float | None = None

    def rate_for(self, view) -> tuple[int, int] | None:
        return parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))

    def key_for(self, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = self.rate_for(view)
        key = self.key_for(request, view) if rate else None
        if key is None:
            return True
        limit, window = rate
        self._wait = throttle_hit(f"{self.scope}:{key}", limit, window)
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
