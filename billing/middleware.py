"""QuotaMiddleware: every question to the coach spends one call of the player's plan, or gets a 429.

On POST to a path in settings.QUOTA_PATHS it authenticates the Bearer token itself (401 in the
error shape otherwise), reserves one call before the view runs (so a refused question gets no
partial answer), sets request.quota_reservation (and request.quota_user, which the view's
authentication reuses), and adds X-Plan-Remaining to the response. A
non-2xx answer gives the call back; the view gives it back itself when the answer fails later
(streaming) or comes from the exact cache (billing.services.quota_release).
"""

import logging

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.http import JsonResponse
from rest_framework.exceptions import APIException, NotAuthenticated
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from billing.errors import QuotaExceeded
from billing.selectors import user_with_plan_names
from billing.services import quota_release, quota_reserve
from config.errors import ApplicationError, error_body, exception_handler
from config.middleware import HybridMiddleware, database_unavailable_response, is_database_unavailable

logger = logging.getLogger(__name__)
_WWW_AUTHENTICATE = 'Bearer realm="api"'


class _PlanJWTAuthentication(JWTAuthentication):
    """simplejwt's JWT check, reading the user together with the names of their plan (one query for
    both: the reservation that follows then needs no query of its own to know the plan)."""

    def get_user(self, validated_token):
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        user = user_with_plan_names(user_id=user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user


def _authenticate(request):
    """The user of the request's Bearer token; raises a DRF exception when it is missing or invalid."""
    authenticator = _PlanJWTAuthentication()
    result = authenticator.authenticate(request)  # reads only request.META
    if result is None:
        raise NotAuthenticated()
    return result[0]


def _authenticate_and_reserve(request):
    """Both in one trip to a worker thread: each sync_to_async hop costs the event loop a thread handoff."""
    user = _authenticate(request)
    return user, quota_reserve(user=user)


def _error_response(exc: Exception) -> JsonResponse:
    if isinstance(exc, ApplicationError):
        response = JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        if isinstance(exc, QuotaExceeded):
            response["X-Plan-Remaining"] = "0"
        return response
    drf_response = exception_handler(exc, {})
    response = JsonResponse(drf_response.data, status=drf_response.status_code)
    if drf_response.status_code == 401:
        response["WWW-Authenticate"] = _WWW_AUTHENTICATE
    return response


def _release_logged(release, reservation) -> None:
    # The database went away after the reservation: the error response already says so; the call
    # stays spent (it cannot be given back without the database) rather than turning into a 500.
    try:
        release(reservation=reservation)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        logger.warning("quota reservation %s not released: database unavailable", reservation.id)


def _remaining(reservation) -> str:
    return str(reservation.remaining + (1 if reservation.released else 0))


class QuotaMiddleware(HybridMiddleware):
    def _applies(self, request) -> bool:
        if request.method != "POST":
            return False
        path = request.path_info.rstrip("/")
        return any(path == quota_path.rstrip("/") for quota_path in settings.QUOTA_PATHS)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        if not self._applies(request):
            return self.get_response(request)
        try:
            user, reservation = _authenticate_and_reserve(request)
        except (ApplicationError, APIException) as exc:
            return _error_response(exc)
        except Exception as exc:
            if is_database_unavailable(exc):  # raised here it would never reach ApiErrorMiddleware: a 500
                return database_unavailable_response(exc)
            raise
        request.quota_reservation = reservation
        request.quota_user = user
        response = self.get_response(request)
        if response.status_code >= 400:
            _release_logged(quota_release, reservation)
        response["X-Plan-Remaining"] = _remaining(reservation)
        return response

    async def __acall__(self, request):
        if not self._applies(request):
            return await self.get_response(request)
        try:
            user, reservation = await sync_to_async(_authenticate_and_reserve)(request)
        except (ApplicationError, APIException) as exc:
            return _error_response(exc)
        except Exception as exc:
            if is_database_unavailable(exc):
                return database_unavailable_response(exc)
            raise
        request.quota_reservation = reservation
        request.quota_user = user  # the view reuses it: the token is checked and the user read once
        response = await self.get_response(request)
        if response.status_code >= 400:
            await sync_to_async(_release_logged)(quota_release, reservation)
        response["X-Plan-Remaining"] = _remaining(reservation)
        return response
