"""The one error shape of the API, {"error": {"code", "message", "details"}}, and the domain errors."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the client should see: a stable code, an HTTP status and optional details."""

    status = 400
    code = "application_error"
    message: str | Promise = _("The request could not be completed.")

    def __init__(self, message: str | Promise | None = None, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None, headers: dict | None = None):  # fmt: skip
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class ServiceUnavailable(ApplicationError):
    status = 503
    code = "service_unavailable"
    message = _("A service this request needs is unavailable; try again shortly.")


def error_body(code: str, message: str | Promise, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "details": details or {}}}  # a lazy message: now


_DRF_CODES = {
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
    drf.ParseError: "parse_error",
    drf.ValidationError: "validation_error",
}


def _drf_code(exc: drf.APIException) -> str:
    # simplejwt's InvalidToken carries a detail dict with its own "code" (token_not_valid, user_inactive...)
    detail = exc.detail
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        return str(detail["code"])
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            return _DRF_CODES[cls]
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def _message(detail) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return str(detail["detail"])
        return str(_("Invalid input."))
    if isinstance(detail, list):
        return str(_("Invalid input."))
    return str(detail)


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error an API view raises leaves in the one shape."""
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None  # unexpected: ApiErrorMiddleware logs it and answers a JSON 500

    details = {}
    if isinstance(exc, drf.ValidationError):
        details = {"fields": exc.detail} if isinstance(exc.detail, dict) else {"errors": exc.detail}
    elif isinstance(exc.detail, dict):
        details = {k: v for k, v in exc.detail.items() if k not in ("detail", "code")}
    response = Response(error_body(_drf_code(exc), _message(exc.detail), details), status=exc.status_code)
    if getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response
