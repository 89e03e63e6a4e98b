"""Middleware that keeps the API's promise: JSON errors in the one shape, never an HTML page."""

import json
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import DatabaseError, InterfaceError
from django.http import JsonResponse

from .errors import error_body

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/auth/", "/billing/", "/healthz", "/readyz")
_STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                 405: "method_not_allowed", 413: "request_too_large", 429: "throttled",
                 500: "server_error", 503: "service_unavailable"}  # fmt: skip


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _is_error_json(response) -> bool:
    if "application/json" not in response.get("Content-Type", ""):
        return False
    try:
        return "error" in json.loads(response.content)
    except (ValueError, AttributeError):
        return False


class ApiErrorMiddleware:
    """Turns non-JSON error responses and unhandled exceptions on API paths into the error shape."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

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
        message = {404: "No such endpoint.", 413: "The request body is too large."}.get(status, "Request failed.")
        rewritten = JsonResponse(error_body(code, message), status=status)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten

    def process_exception(self, request, exception):
        if not _is_api(request.path):
            return None
        if isinstance(exception, DatabaseError | InterfaceError):
            logger.warning("database unavailable: %s", type(exception).__name__)
            return JsonResponse(
                error_body("database_unavailable", "The database is unavailable; try again shortly."),
                status=503, headers={"Retry-After": "5"},
            )  # fmt: skip
        logger.exception("unhandled error on %s", request.path)
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
