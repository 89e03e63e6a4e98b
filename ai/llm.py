"""Calling OpenAI's chat models, for coach's answers and knowledge's summaries: the shared SDK clients,
the customer's retries (1 -> 2 -> 4 s, or the provider's Retry-After), the errors players see once they
are spent, the parameters reasoning models take, and quoting data inside a prompt's fences."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import openai
from django.conf import settings

from ai.errors import AIBadResponse, AIError, AIModelUnavailable, AIQuotaExhausted, AITimeout

logger = logging.getLogger(__name__)
T = TypeVar("T")

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
# The fences prompts draw around data. Retrieved or ingested text that opens or closes one of them
# could end the quote early and speak as the prompt itself, so such sequences are neutralised.
_FENCE = re.compile(r"<(\s*/?\s*)(sources?|question|conversation|turn|passage)\b", re.IGNORECASE)


def quote(text: object) -> str:
    """Data going inside a fence: no sequence in it can open or close one."""
    return _FENCE.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", str(text or ""))


def is_reasoning_model(model: str) -> bool:
    """o-series (o1, o3, o4-mini...) and gpt-5: max_completion_tokens, no temperature, developer role."""
    return bool(_REASONING_MODEL.match(model))


def chat_params(model: str, max_tokens: int) -> dict:
    if is_reasoning_model(model):
        params: dict[str, Any] = {"max_completion_tokens": max_tokens}
        if settings.LLM_REASONING_EFFORT:
            params["reasoning_effort"] = settings.LLM_REASONING_EFFORT
        return params
    return {"max_tokens": max_tokens, "temperature": settings.LLM_TEMPERATURE}


# --- the shared clients ----------------------------------------------------------------------------
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sync_clients: dict[tuple, openai.OpenAI] = {}
_sync_lock = threading.Lock()


def _client_key() -> tuple:
    return (
        settings.OPENAI_API_KEY,
        settings.OPENAI_BASE_URL,
        settings.OPENAI_TIMEOUT_SECONDS,
        settings.OPENAI_MAX_CONNECTIONS,
        settings.OPENAI_CONNECTIONS_PER_CLIENT,
    )


def _client_options(key: tuple, connections: int) -> tuple[dict, dict]:
    api_key, base_url, seconds = key[:3]
    timeout = httpx2.Timeout(seconds, connect=min(seconds, 5.0))
    # Every connection may stay alive: bursts of hundreds of concurrent answers reuse them.
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30)
    # max_retries=0: the SDK's own retries are off; ours follow the customer's schedule.
    options = {"api_key": api_key, "base_url": base_url, "max_retries": 0, "timeout": timeout}
    return options, {"limits": limits, "timeout": timeout}


def async_client() -> openai.AsyncOpenAI:
    """A shared AsyncOpenAI of the running event loop, taken in turn from the loop's few clients.

    httpcore's pool walks all of its connections on every request, so one pool of hundreds of
    connections costs more CPU per call than several small ones: for 500 concurrent calls, pools of
    64 took about half the client CPU of one pool of 1,000 (3.0 s -> 1.3 s, measured on 2 cores).
    Together the clients hold OPENAI_MAX_CONNECTIONS. Each runs on the SDK's public aiohttp client
    (openai[aiohttp]), which does 2.5 M fewer instructions per miss than its httpx2 one
    (docs/performance.md); the ring was measured over httpx2.
    """
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    key = _client_key()
    if key not in clients:
        total, per_client = settings.OPENAI_MAX_CONNECTIONS, settings.OPENAI_CONNECTIONS_PER_CLIENT
        count = max(1, math.ceil(total / max(1, per_client)))
        options, http = _client_options(key, math.ceil(total / count))
        ring = [openai.AsyncOpenAI(**options, http_client=openai.DefaultAioHttpClient(**http)) for _ in range(count)]
        clients[key] = (ring, itertools.cycle(ring))
    return next(clients[key][1])


async def async_clients_close() -> None:
    """Close the running loop's clients (tests, or a worker shutting down)."""
    for ring, _ in _async_clients.pop(asyncio.get_running_loop(), {}).values():
        for client in ring:
            await client.close()


def sync_client() -> openai.OpenAI:
    key = _client_key()
    with _sync_lock:
        if key not in _sync_clients:
            options, http = _client_options(key, settings.OPENAI_CONNECTIONS_PER_CLIENT)
            _sync_clients[key] = openai.OpenAI(**options, http_client=openai.DefaultHttpx2Client(**http))
        return _sync_clients[key]


# --- retries and errors -----------------------------------------------------------------------------
@dataclass
class Tries:
    count: int = 0  # HTTP calls made, over every model tried


def _quota_exhausted(exc: Exception) -> bool:
    return isinstance(exc, openai.RateLimitError) and "insufficient_quota" in (exc.code, exc.type)


def timed_out(exc: BaseException) -> bool:
    """The provider took too long, as opposed to refusing or dropping the connection.

    The SDK's aiohttp client raises APITimeoutError for both: its transport maps aiohttp's connection
    errors (refused, server disconnected) to a connect timeout. A timeout has a TimeoutError under it
    (asyncio's, the socket's, or aiohttp's, which subclasses it), whichever HTTP client the SDK used."""
    if not isinstance(exc, openai.APITimeoutError):
        return False
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.RateLimitError):
        return not _quota_exhausted(exc)
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500
    # Timeouts, and connections refused or reset before an answer: the request may simply be retried.
    return isinstance(exc, openai.APIConnectionError)


def _retry_after(exc: Exception) -> float | None:
    """The provider's Retry-After (retry-after-ms, or seconds, or an HTTP date) in seconds, if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _retry_delay(exc: Exception, retries_done: int) -> float | None:
    """Seconds to wait before the next try, or None to give up: 1 -> 2 -> 4 s unless Retry-After says."""
    if retries_done >= settings.LLM_MAX_RETRIES or not _retryable(exc):
        return None
    after = _retry_after(exc)
    if after is not None:
        return after if after <= settings.LLM_RETRY_AFTER_MAX_SECONDS else None
    return settings.LLM_BACKOFF_SECONDS * 2**retries_done


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"{exc.status_code} {exc.code or exc.type or ''}".strip()
    return type(exc).__name__


async def retrying(call: Callable[[], Awaitable[T]], *, tries: Tries, sleep) -> T:
    retries = 0
    while True:
        tries.count += 1
        try:
            return await call()
        except (openai.OpenAIError, ValueError) as exc:
            delay = _retry_delay(exc, retries)
            if delay is None:
                raise
            retries += 1
            logger.warning("LLM call failed (%s); retry %d in %.1f s", _describe(exc), retries, delay)
            await sleep(delay)


def retrying_sync(call: Callable[[], T], *, tries: Tries, sleep) -> T:
    retries = 0
    while True:
        tries.count += 1
        try:
            return call()
        except (openai.OpenAIError, ValueError) as exc:
            delay = _retry_delay(exc, retries)
            if delay is None:
                raise
            retries += 1
            logger.warning("LLM call failed (%s); retry %d in %.1f s", _describe(exc), retries, delay)
            sleep(delay)


def ai_error(exc: Exception, tries: Tries) -> AIError:
    """What the player sees once our retries are spent (or the failure is not worth retrying)."""
    details = {"attempts": tries.count}
    if _quota_exhausted(exc):
        logger.error("LLM provider account is out of quota (insufficient_quota): top it up; answering 503")
        return AIQuotaExhausted(details=details)
    if timed_out(exc):
        return AITimeout(details=details)
    if isinstance(exc, openai.NotFoundError):
        logger.error("LLM model unavailable and no fallback left: %s", exc.message)
        return AIModelUnavailable(details=details)
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        logger.error("LLM provider sent an unreadable response: %r", exc)
        return AIBadResponse(details=details)
    if isinstance(exc, openai.APIStatusError) and exc.status_code < 500 and exc.status_code != 429:
        # Our request or our key is wrong; retrying cannot help and someone must look.
        logger.error("LLM provider rejected the request (%s): %s", exc.status_code, exc.message)
    after = _retry_after(exc)
    headers = {"Retry-After": str(math.ceil(after))} if after is not None else {}
    return AIError(details=details, headers=headers)


# Models the provider said are retired/unknown: (base URL, model) -> until when calls skip them.
