"""The async OpenAI clients of the ask path (answers and question embeddings), over aiohttp.

The SDK speaks HTTP through an httpx2 client, and offers aiohttp underneath it (`openai[aiohttp]`,
`DefaultAioHttpClient`) for concurrent use. Against the local OpenAI stand-in an SDK call took
about 650 us of CPU that way, against 830 us through httpx2's own transport (httpcore and h11);
an unanswered question makes two calls (bench/README.md, change 38).

One thing is mended on the way: the SDK's aiohttp transport (openai/_vendor/httpx_aiohttp) turns
every aiohttp connection error into httpx2's ConnectTimeout, so a refused connection or a server
that hung up would reach the SDK as APITimeoutError (504 ai_timeout) instead of APIConnectionError
(503 ai_unavailable). Here a timeout stays a timeout and every other connection error is a
connection error, as httpx2's own transport reports them. (An answer cut off midway needs no
mending: aiohttp reports it as ClientPayloadError, which the SDK's transport maps to ReadError.)

An aiohttp session belongs to its event loop and must be closed on it, or it complains when it is
collected. Each transport closes its session when its loop shuts down: the loop's
shutdown_asyncgens(), which asyncio.run (so uvicorn), asgiref's async_to_sync and the tests' loops
all call before closing, finishes an async generator the transport started on it (_closed_with).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx2
import openai
from openai._vendor.httpx_aiohttp import AiohttpTransport


def _remapped(exc: httpx2.TransportError, request: httpx2.Request) -> httpx2.TransportError:
    """exc, or for a ConnectTimeout that was no timeout, the error httpx2's own transport raises."""
    cause = exc.__cause__
    if not isinstance(exc, httpx2.ConnectTimeout) or cause is None or isinstance(cause, TimeoutError):
        return exc
    kind: type[httpx2.TransportError]
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unreachable, TLS handshake
        kind = httpx2.ConnectError
    elif isinstance(cause, aiohttp.ServerDisconnectedError):  # hung up before answering
        kind = httpx2.RemoteProtocolError
    else:  # reset, broken pipe
        kind = httpx2.ReadError
    return kind(str(exc) or type(cause).__name__, request=request)


async def _closed_with(transport: AiohttpTransport) -> AsyncIterator[None]:
    """Started on the transport's loop; the loop's shutdown_asyncgens() ends it, closing the session."""
    try:
        yield
    finally:
        await transport.aclose()


class _Transport(AiohttpTransport):
    _closer: AsyncIterator[None] | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._closer is None:  # the session is made on the first request, on the loop it belongs to
            self._closer = _closed_with(self)
            await anext(self._closer)
        try:
            return await super().handle_async_request(request)
        except httpx2.TransportError as exc:
            mapped = _remapped(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc.__cause__


class AsyncHttpClient(openai.DefaultAioHttpClient):
    """The SDK's aiohttp client (its defaults: timeout, limits, redirects), with _Transport under it."""

    def _init_transport(self, transport=None, **kwargs):
        return transport if transport is not None else _Transport(**kwargs)

    def _init_proxy_transport(self, proxy, **kwargs):
        return _Transport(proxy=proxy, **kwargs)


def async_openai(*, http: dict | None = None, **options) -> openai.AsyncOpenAI:
    """An AsyncOpenAI over AsyncHttpClient(**http), for use on the running event loop."""
    return openai.AsyncOpenAI(**options, http_client=AsyncHttpClient(**(http or {})))
