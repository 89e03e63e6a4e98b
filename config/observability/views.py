"""GET /metrics for Prometheus, readable only from settings.METRICS_ALLOWED_IPS or with METRICS_TOKEN."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from config.errors import error_body

from .metrics import metrics_text

logger = logging.getLogger(__name__)


def _address_allowed(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if client in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS has an entry that is not an address or network: %r", allowed)
    return False


def _token_allowed(header: str) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_allowed(request) -> bool:
    return _token_allowed(request.headers.get("Authorization", "")) or _address_allowed(
        request.META.get("REMOTE_ADDR", "")
    )


@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        return JsonResponse(
            error_body("metrics_forbidden", "Metrics are readable only from allowed addresses or with the token."),
            status=403,
        )
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
