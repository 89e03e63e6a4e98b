"""ObservabilityMiddleware (first in MIDDLEWARE): the request id, one access log line and metrics per request.

It takes the request id from X-Request-ID when that is short and safe (else makes one), returns it
in X-Request-ID, and makes it (and the user id) part of every log line written while the request
is served. After the response it logs `request` with path, route, status and duration_ms (plus any
log_fields_add() fields) and records the request metrics by resolved route. A 429 quota_exceeded
is counted per plan here, because every refused ask passes this point whoever refused it.
"""

from __future__ import annotations

import json
import logging
import time

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils.module_loading import import_string

from config.middleware import HybridMiddleware

from . import metrics
from .context import RequestContext, current, request_id_from, user_id_of
from .logs import RESERVED_ATTRS

logger = logging.getLogger("gamecoach.request")
HEADER = "X-Request-ID"
# Probes and scrapes arrive every few seconds; their successes are counted but not logged.
_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return "/" + (match.route or match.view_name or "")


def _quota_plan(response) -> str | None:
    """The plan of a 429 quota_exceeded error body (billing puts it in details), else None."""
    if response.status_code != 429 or getattr(response, "streaming", False):
        return None
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(error, dict) or error.get("code") != "quota_exceeded":
        return None
    details = error.get("details") or {}
    return str(details.get("plan") or "unknown") if isinstance(details, dict) else "unknown"


def _quota_rejection_count(plan: str) -> None:
    try:
        import_string(settings.QUOTA_REJECTION_COUNTER)(plan=plan)
    except Exception:  # the count is for the dashboard; the client's answer must not suffer
        logger.warning("could not count a quota rejection", exc_info=True)


class ObservabilityMiddleware(HybridMiddleware):
    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        context = self._begin(request)
        response = self.get_response(request)
        plan = self._finish(request, response, context)
        if plan is not None:
            _quota_rejection_count(plan)
        return response

    async def __acall__(self, request):
        context = self._begin(request)
        response = await self.get_response(request)
        plan = self._finish(request, response, context)
        if plan is not None:
            await sync_to_async(_quota_rejection_count)(plan)
        return response

    def _begin(self, request) -> RequestContext:
        context = RequestContext(request_id=request_id_from(request.headers.get(HEADER)), request=request)
        request.request_id = context.request_id
        current.set(context)
        return context

    def _finish(self, request, response, context: RequestContext) -> str | None:
        seconds = time.perf_counter() - context.started
        response[HEADER] = context.request_id
        route, status = _route(request), response.status_code
        metrics.http_request_record(request.method, route, status, seconds)
        plan = _quota_plan(response)
        if plan is not None:
            metrics.quota_rejection_record(plan)
        if not (status < 400 and request.path.startswith(_QUIET_PATHS)):
            level = logging.ERROR if status >= 500 else logging.INFO
            fields = {
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "user_id": user_id_of(request),
            }
            if getattr(response, "streaming", False):
                fields["streaming"] = True  # duration_ms is the time to the first byte
            extra = {k: v for k, v in context.fields.items() if k not in RESERVED_ATTRS}
            logger.log(level, "request", extra={**extra, **fields})
        return plan


@receiver(request_finished, dispatch_uid="observability_request_context_clear")
def _request_context_clear(**kwargs) -> None:
    # Not when the middleware returns: Django logs 4xx responses after that, and a stream is still
    # being sent; request_finished comes once the response is closed.
    current.set(None)
