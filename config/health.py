"""Liveness (/healthz) and readiness (/readyz: the database and Redis answer) probes."""

import logging
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connection
from django.http import JsonResponse
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)
_readiness_extras: list[Callable[[], dict[str, object]]] = []


def readiness_extra(func):
    """Register a function returning {name: value} that /readyz reports (the semantic cache backend...)."""
    _readiness_extras.append(func)
    return func


def healthz(request):
    return JsonResponse({"status": "ok"})


class HealthzMiddleware:
    """GET /healthz answered before anything reads the Host header, so it is not checked against ALLOWED_HOSTS.

    Probes address the server, not the site: Docker's HEALTHCHECK (127.0.0.1:8000), a load balancer or
    Kubernetes (the container's IP). The answer is the same constant for every caller and builds no URL
    from the host, which is what ALLOWED_HOSTS guards; every other path, /readyz included, is still checked.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return healthz(request) if _is_liveness_probe(request) else self.get_response(request)

    async def __acall__(self, request):
        return healthz(request) if _is_liveness_probe(request) else await self.get_response(request)


def _is_liveness_probe(request) -> bool:
    return request.path == "/healthz" and request.method in ("GET", "HEAD")


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    get_redis_connection("default").ping()
    return "ok"


def readyz(request):
    checks, failed = {}, []
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure means "not ready", and says which
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            checks[name] = "unavailable"
            failed.append(name)
    for extra in _readiness_extras:
        checks.update(extra())
    if failed:
        body = {"error": {"code": "not_ready", "message": f"Not ready: {', '.join(failed)} unavailable.",
                          "details": {"checks": checks}}}  # fmt: skip
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": checks})
