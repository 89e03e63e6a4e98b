"""End to end with a real Celery worker on the real broker: deliver, process, retry while RevenueCat is down."""

import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from billing.models import WebhookEvent
from billing.selectors import user_plan
from billing.tasks import webhook_events_requeue
from config.celery import app
from tests.billing.conftest import WEBHOOK_AUTH, WEBHOOK_URL
from tests.billing.payloads import event
from tests.billing.states import subscribed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


@pytest.fixture
def worker(settings):
    settings.REVENUECAT_RETRY_SECONDS = 1
    settings.REVENUECAT_HTTP_RETRIES = 0
    app.control.purge()
    # The default queue named: a worker started with `queues` (tests/ops) leaves the app consuming only those.
    queues = [app.conf.task_default_queue]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15, queues=queues) as running:
        yield running


def test_a_delivery_while_revenuecat_is_down_is_applied_by_the_worker_once_it_is_back(
    api_client, revenuecat, worker, user
):
    subscribed(revenuecat, str(user.public_id))
    revenuecat.down()
    response = api_client.post(WEBHOOK_URL, data=json.dumps(event("INITIAL_PURCHASE", str(user.public_id))),
                               content_type="application/json", HTTP_AUTHORIZATION=WEBHOOK_AUTH)  # fmt: skip
    assert response.status_code == 200
    wait_until(lambda: WebhookEvent.objects.get().attempts >= 1)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING
    assert user_plan(user=user).name == "free"
    revenuecat.up()
    wait_until(lambda: WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED)
    assert user_plan(user=user).name == "basic"


def test_the_beat_requeue_gets_an_event_whose_queueing_was_lost_processed(revenuecat, worker, user):
    subscribed(revenuecat, str(user.public_id))
    payload = event("RENEWAL", str(user.public_id))
    lost = WebhookEvent.objects.create(
        event_id=payload["event"]["id"], type="RENEWAL", app_user_id=str(user.public_id), environment="PRODUCTION",
        raw_body=json.dumps(payload), payload=payload, received_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    assert webhook_events_requeue() == 1
    wait_until(lambda: WebhookEvent.objects.get(pk=lost.pk).status == WebhookEvent.Status.PROCESSED)
    assert user_plan(user=user).name == "basic"
