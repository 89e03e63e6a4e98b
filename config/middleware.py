"""Middleware that keeps the API's promise: JSON errors in the one shape, never an HTML page."""

import asyncio
import contextlib
import json
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from whitenoise.middleware import WhiteNoiseMiddleware

from .errors import error_body

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/auth/", "/billing/", "/healthz", "/readyz")
_STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                 405: "method_not_allowed", 413: "request_too_large", 429: "throttled",
                 500: "server_error", 503: "service_unavailable"}  # fmt: skip
_STATUS_MESSAGES = {404: _("No such endpoint."), 413: _("The request body is too large.")}


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _is_error_json(response) -> bool:
    if "application/json" not in response.get("Content-Type", ""):
        return False
    try:
        return "error" in json.loads(response.content)
    except (ValueError, AttributeError):
        return False


def request_language(accept_language: str) -> str:
    """The language of settings.LANGUAGES an Accept-Language header asks for (LANGUAGE_CODE if none): for the
    errors written outside LocaleMiddleware (before it, or around the whole stack)."""
    from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

    for code, _quality in parse_accept_lang_header(accept_language[:200]):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def is_database_unavailable(exception: BaseException) -> bool:
    """The database cannot be reached or dropped the connection (not an integrity or data error: those are bugs)."""
    return isinstance(exception, OperationalError | InterfaceError)


def database_unavailable_response(exception: BaseException) -> JsonResponse:
    """503 database_unavailable, also for middleware that reads the database (its errors skip process_exception)."""
    logger.warning("database unavailable: %s", type(exception).__name__)
    return JsonResponse(
        error_body("database_unavailable", gettext("The database is unavailable; try again shortly.")),
        status=503, headers={"Retry-After": "5"},
    )  # fmt: skip


class HybridMiddleware:
    """Base for middleware that serves both stacks: async under ASGI, sync under WSGI and the test client."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)


class ApiErrorMiddleware(HybridMiddleware):
    """Turns non-JSON error responses and unhandled exceptions on API paths into the error shape."""

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._rewrite(request, self.get_response(request))

    async def __acall__(self, request):
        return self._rewrite(request, await self.get_response(request))

    def _rewrite(self, request, response):
        if response.status_code < 400 or not _is_api(request.path) or getattr(response, "streaming", False):
            return response
        if _is_error_json(response):
            return response
        status = response.status_code
        code = _STATUS_CODES.get(status, "error")
        message = _STATUS_MESSAGES.get(status, _("Request failed."))
        with translation.override(request_language(request.headers.get("Accept-Language", ""))):
            rewritten = JsonResponse(error_body(code, str(message)), status=status)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten

    def process_exception(self, request, exception):
        if not _is_api(request.path):
            return None
        if is_database_unavailable(exception):
            return database_unavailable_response(exception)
        logger.exception("unhandled error on %s", request.path)
        with translation.override(request_language(request.headers.get("Accept-Language", ""))):
            return JsonResponse(error_body("server_error", gettext("Something went wrong on our side.")), status=500)


# --- request size -------------------------------------------------------------------------------
def body_limit_for(path: str) -> int:
    """The largest body accepted on path: the API's limit, or the admin's (staff paste long guides)."""
    if path.startswith("/admin/"):
        return settings.MAX_ADMIN_BODY_BYTES
    return settings.MAX_REQUEST_BODY_BYTES


def _too_large_body(limit: int, accept_language: str = "") -> dict:
    with translation.override(request_language(accept_language)):
        return error_body("request_too_large", gettext("The request body is too large."), {"max_bytes": limit})


def _not_a_number_body(accept_language: str) -> dict:
    with translation.override(request_language(accept_language)):
        return error_body("bad_request", gettext("Content-Length is not a number."))


class RequestBodyLimitMiddleware(HybridMiddleware):
    """A declared Content-Length over the limit gets 413 before anything reads or parses the body.

    Covers WSGI and the test client; under ASGI, BodySizeLimitASGI (config/asgi.py) already refused
    such a request, and also cuts off bodies streamed without a Content-Length.
    """

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._refusal(request) or self.get_response(request)

    async def __acall__(self, request):
        return self._refusal(request) or await self.get_response(request)

    def _refusal(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = body_limit_for(request.path)
        accept_language = request.headers.get("Accept-Language", "")
        try:
            length = int(declared)
        except ValueError:
            return JsonResponse(_not_a_number_body(accept_language), status=400)
        if length > limit:
            logger.warning("request body over the limit refused", extra={"content_length": length, "limit": limit})
            return JsonResponse(_too_large_body(limit, accept_language), status=413, headers={"Connection": "close"})
        return None


class BodySizeLimitASGI:
    """ASGI wrapper: bodies over the limit get 413 before Django reads them.

    Django's ASGI handler reads the whole body (spooling it to disk) before any middleware runs, even
    a chunked one with no Content-Length, so the limit has to sit in front of it. A body that turns
    out too large is read on and thrown away (up to DRAIN_BYTES, for DRAIN_SECONDS) so that the
    client, still sending, reads the 413 instead of a reset connection; nothing of it is kept.
    """

    DRAIN_BYTES = 4 * 1024 * 1024
    DRAIN_SECONDS = 5.0

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit_for(scope.get("path", ""))
        declared = next((value for name, value in scope.get("headers", []) if name == b"content-length"), None)
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return await _asgi_json(send, 400, _not_a_number_body(_asgi_accept_language(scope)))
            if length > limit:
                return await self._refuse(scope, receive, send, limit, length, already=0, finished=False)

        received, too_large, finished = 0, False, False

        async def limited_receive():
            nonlocal received, too_large, finished
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
                if received > limit:
                    too_large = True  # Django sees a client that went away and answers nothing
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, limited_receive, send)
        if too_large:
            await self._refuse(scope, receive, send, limit, received, already=received, finished=finished)

    async def _refuse(self, scope, receive, send, limit, length, *, already: int, finished: bool) -> None:
        extra = {"path": scope.get("path"), "content_length": length, "limit": limit}
        logger.warning("request body over the limit refused", extra=extra)
        if not finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(receive, already), self.DRAIN_SECONDS)
        await _asgi_json(send, 413, _too_large_body(limit, _asgi_accept_language(scope)))

    async def _drain(self, receive, already: int) -> None:
        drained = already
        while drained <= self.DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


def _asgi_accept_language(scope) -> str:
    value = next((value for name, value in scope.get("headers", []) if name == b"accept-language"), b"")
    return value.decode("latin-1")


async def _asgi_json(send, status: int, body: dict) -> None:
    content = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


# --- static files -------------------------------------------------------------------------------
class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise for both stacks. WhiteNoise's own middleware is sync-only, so under ASGI Django ran
    every middleware above it in a worker thread and hopped back to the event loop for the view:
    two thread handoffs on every API request for the sake of the admin's CSS. Here only a request
    for a static file leaves the event loop (to read the file); everything else passes straight on."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:  # DEBUG: looks on disk, so never on the event loop
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


# --- Django's own middleware, on the event loop --------------------------------------------------
def _never(request, response=None) -> bool:
    return False


def _csrf_in_session(request, response=None) -> bool:
    return settings.CSRF_USE_SESSIONS  # the token lives in the session, which reads the database


def _session_saved(request, response) -> bool:
    session = getattr(request, "session", None)
    return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


def _messages_stored(request, response) -> bool:
    storage = getattr(request, "_messages", None)
    return storage is not None and (storage.used or storage.added_new)  # update() then reads the session


def _with_exempt_views_on_loop(init):
    """CsrfViewMiddleware.__init__, which under ASGI gives the instance an async process_view: Django
    would otherwise run it in the worker thread for every request, although for a csrf_exempt view
    (every API view) it returns None before reading anything. Other views still take the thread
    (the check may read a form body or the session)."""

    def __init__(self, get_response):
        init(self, get_response)
        if not self.async_mode:
            return
        process_view = self.process_view
        in_thread = sync_to_async(process_view, thread_sensitive=True)

        async def process_view_on_loop(request, callback, callback_args, callback_kwargs):
            if getattr(callback, "csrf_exempt", False):
                return process_view(request, callback, callback_args, callback_kwargs)
            return await in_thread(request, callback, callback_args, callback_kwargs)

        self.process_view = process_view_on_loop  # read by Django's handler right after this

    return __init__


def _on_loop_acall(request_io, response_io):
    """MiddlewareMixin.__acall__, with each hook leaving the event loop only when `*_io` says it would do I/O."""

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if request_io(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if response_io(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response

    return __acall__


def django_middleware_on_loop() -> None:
    """Under ASGI, Django's MiddlewareMixin runs every process_request and process_response in a
    worker thread, in case it touches the database: fourteen thread handoffs per API request for the
    eight Django middleware in settings.MIDDLEWARE, most of which only read the request and set
    headers (docs/performance.md: a quarter of an exact hit's CPU). Here each hook runs on the
    event loop, and goes to the thread only when it would read or write the session: a modified session is saved,
    messages are stored, the CSRF token lives in the session. CSRF's process_view, which Django
    adapts on its own, stays on the loop for csrf_exempt views.

    Set on Django's classes (config.apps, at startup) rather than on subclasses, so that
    settings.MIDDLEWARE keeps naming Django's own: `check --deploy` looks for those names. The sync
    path (WSGI, the test client) is Django's unchanged. tests/test_middleware_on_loop.py holds each
    hook to it on this Django version.
    """
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.middleware.clickjacking import XFrameOptionsMiddleware
    from django.middleware.common import CommonMiddleware
    from django.middleware.csrf import CsrfViewMiddleware
    from django.middleware.locale import LocaleMiddleware
    from django.middleware.security import SecurityMiddleware

    hooks = {
        SecurityMiddleware: (_never, _never),
        SessionMiddleware: (_never, _session_saved),  # a SessionStore is made without reading it
        CommonMiddleware: (_never, _never),
        LocaleMiddleware: (_never, _never),  # reads Accept-Language and the language cookie, sets headers
        CsrfViewMiddleware: (_csrf_in_session, _csrf_in_session),
        AuthenticationMiddleware: (_never, _never),  # request.user is lazy: read where it is used
        MessageMiddleware: (_never, _messages_stored),
        XFrameOptionsMiddleware: (_never, _never),
    }
    # Patching Django's own classes is the point (see above), which mypy refuses for methods.
    for middleware, (request_io, response_io) in hooks.items():
        middleware.__acall__ = _on_loop_acall(request_io, response_io)  # type: ignore[method-assign]
    if not getattr(CsrfViewMiddleware, "_process_view_on_loop", False):
        CsrfViewMiddleware.__init__ = _with_exempt_views_on_loop(CsrfViewMiddleware.__init__)  # type: ignore[method-assign]
        CsrfViewMiddleware._process_view_on_loop = True  # type: ignore[attr-defined]
