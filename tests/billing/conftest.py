"""Billing fixtures: RevenueCat's REST API on loopback, and webhook delivery as RevenueCat does it."""

import contextlib
import json

import pytest

from billing.errors import RevenueCatUnavailable
from billing.models import WebhookEvent
from billing.services import webhook_event_process
from tests.servers.revenuecat import revenuecat_configured

WEBHOOK_URL = "/billing/revenuecat/webhook"
WEBHOOK_AUTH = "Bearer rc-webhook-secret-0123456789"


@pytest.fixture
def revenuecat(settings):
    with revenuecat_configured(settings, webhook_auth=WEBHOOK_AUTH, REVENUECAT_ALLOW_SANDBOX=False) as server:
        yield server


@pytest.fixture
def deliver(api_client, revenuecat, django_capture_on_commit_callbacks):
    """POST a body to the webhook as RevenueCat does, then run the processing it queued (in process)."""

    def _deliver(payload=None, *, raw: bytes | str | None = None, auth: str | None = WEBHOOK_AUTH,
                 process: bool = True):  # fmt: skip
        body = raw if raw is not None else json.dumps(payload)
        headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = api_client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)
        response.queued = len(callbacks)
        if process and response.status_code == 200 and response.json()["status"] == "received":
            stored = WebhookEvent.objects.get(event_id=response.json()["event_id"])
            with contextlib.suppress(RevenueCatUnavailable):  # stays pending, as the task leaves it
                webhook_event_process(event_pk=stored.pk)
        return response

    return _deliver
