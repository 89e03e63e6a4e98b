"""A small client for RevenueCat's REST API v1: GET /v1/subscribers/{app_user_id}, with timeouts and retries."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from billing.errors import RevenueCatUnavailable

_RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class SubscriberSnapshot:
    app_user_id: str
    request_date_ms: int  # RevenueCat's clock when it answered
    subscriber: dict[str, Any]


def _session() -> requests.Session:
    retries = Retry(
        total=settings.REVENUECAT_HTTP_RETRIES,
        backoff_factor=0.3,
        backoff_max=5,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retries))
    session.mount("https://", HTTPAdapter(max_retries=retries))
    return session


def subscriber_get(app_user_id: str) -> SubscriberSnapshot:
    """The subscriber as RevenueCat knows it now; RevenueCatUnavailable when it cannot be read."""
    if not settings.REVENUECAT_API_KEY:
        raise RevenueCatUnavailable("REVENUECAT_API_KEY is not set")
    url = f"{settings.REVENUECAT_API_BASE_URL.rstrip('/')}/v1/subscribers/{quote(app_user_id, safe='')}"
    timeout = settings.REVENUECAT_TIMEOUT_SECONDS
    headers = {"Authorization": f"Bearer {settings.REVENUECAT_API_KEY}", "Accept": "application/json"}
    with _session() as session:
        try:
            response = session.get(url, headers=headers, timeout=(min(timeout, 3.0), timeout))
        except requests.RequestException as exc:
            raise RevenueCatUnavailable(f"GET subscriber failed: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise RevenueCatUnavailable(f"GET subscriber answered HTTP {response.status_code}")
    try:
        body = response.json()
        subscriber = body["subscriber"]
        request_date_ms = int(body["request_date_ms"])
        if not isinstance(subscriber, dict):
            raise TypeError("subscriber is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise RevenueCatUnavailable(f"GET subscriber gave an unexpected body: {exc!r}") from exc
    return SubscriberSnapshot(app_user_id=app_user_id, request_date_ms=request_date_ms, subscriber=subscriber)
