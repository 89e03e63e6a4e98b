"""EventLoopAPIView: an async DRF view whose checks run on the event loop instead of in worker threads.

adrf's APIView runs DRF's `initial()` (authentication, permissions, throttles) in a worker thread
and, inside it, hops back to the loop twice for async permissions and throttles, even when there
are none: three thread handoffs before the view starts, each one costing CPU and, under load, a
wait for the thread. Here content negotiation and permissions (no I/O) run on the loop, the
throttles' windows are counted in one async Redis call (config.throttles), and authentication
leaves the loop only when it has to read the database (`authenticates_on_loop`). The JSON is
rendered on the loop too (`_rendered`).
"""

from __future__ import annotations

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from rest_framework.views import APIView

from .throttles import RedisRateThrottle, athrottle_hits


class EventLoopAPIView(AsyncAPIView):
    def authenticates_on_loop(self, request) -> bool:
        """True when the authenticators can tell the user without blocking I/O (override per view)."""
        return False

    async def async_dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await self.ainitial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                self.http_method_not_allowed(request, *args, **kwargs)  # raises MethodNotAllowed
            if iscoroutinefunction(handler):
                response = await handler(request, *args, **kwargs)
            else:
                response = await sync_to_async(handler)(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = _rendered(self.finalize_response(request, response, *args, **kwargs))
        return self.response

    async def ainitial(self, request, *args, **kwargs) -> None:
        """DRF's initial(), in the same order: negotiation, versioning, authentication, permissions, throttles."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        if self.authenticates_on_loop(request):
            self.perform_authentication(request)
        else:
            await sync_to_async(self.perform_authentication)(request)
        APIView.check_permissions(self, request)
        await self.acheck_throttles(request)

    async def acheck_throttles(self, request) -> None:
        throttles = self.get_throttles()
        if not all(isinstance(throttle, RedisRateThrottle) for throttle in throttles):
            await sync_to_async(APIView.check_throttles)(self, request)
            return
        windows = [window for throttle in throttles if (window := throttle.window_for(request, self))]
        wait = await athrottle_hits(windows)
        if wait:
            self.throttled(request, wait)


def _rendered(response: HttpResponseBase) -> HttpResponseBase:
    """DRF's Response renders when Django asks it to, and Django's async handler asks in a worker
    thread (a template might read the database). Rendering JSON needs no thread, so it is done
    here, and Django gets a plain HttpResponse: same status, headers, cookies and body."""
    if not isinstance(response, SimpleTemplateResponse):
        return response  # a stream (Server-Sent Events) or an HttpResponse already
    response.render()
    plain = HttpResponse(response.content, status=response.status_code, headers=response.headers)
    plain.cookies = response.cookies
    return plain
