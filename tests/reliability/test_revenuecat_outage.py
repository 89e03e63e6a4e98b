"""RevenueCat's REST API down for longer than the task retries: events stay stored and pending, then get processed.

tests/billing covers an outage shorter than the retries; here the task gives up first, and the
beat's re-queue (webhook_events_requeue, what django-celery-beat runs) is what brings them home.
"""

import json

import pytest
from celery.contrib.testing.worker import start_worker

from billing.models import WebhookEvent
from billing.selectors import user_plan
from billing.services.maintenance import webhook_events_due
from billing.tasks import revenuecat_event_process, webhook_events_requeue
from config.celery import app
from tests.billing.payloads import event
from tests.billing.states import subscribed
from tests.factories import UserFactory
from tests.reliability.conftest import wait_until
from tests.servers.revenuecat import revenuecat_configured

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WEBHOOK_AUTH = "Bearer rc-webhook-secret-reliability"


@pytest.fixture
def revenuecat(settings):
    # REVENUECAT_RETRY_SECONDS: the task's waits, 0.01 s doubling, 8 retries (production: 60 s)
    with revenuecat_configured(
        settings, webhook_auth=WEBHOOK_AUTH, REVENUECAT_HTTP_RETRIES=0, REVENUECAT_RETRY_SECONDS=0.01
    ) as server:
        yield server


def test_events_outlive_a_revenuecat_outage_longer_than_the_task_retries(api_client, revenuecat):
    # given two players who bought plans while RevenueCat's REST API is down
    players = [UserFactory(), UserFactory()]
    for user in players:
        subscribed(revenuecat, str(user.public_id))
    revenuecat.down()
    app.control.purge()
    # queues= explicitly: a start_worker(queues=[...]) earlier in this process narrows the app's queues for good
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15,
                      queues=[app.conf.task_default_queue]):  # fmt: skip
        deliveries = [event("INITIAL_PURCHASE", str(players[0].public_id)),
                      event("RENEWAL", str(players[0].public_id)),
                      event("INITIAL_PURCHASE", str(players[1].public_id))]  # fmt: skip
        for body in deliveries:
            response = api_client.post("/billing/revenuecat/webhook", data=json.dumps(body),
                                       content_type="application/json", HTTP_AUTHORIZATION=WEBHOOK_AUTH)  # fmt: skip
            assert response.status_code == 200  # acknowledged at once: RevenueCat must not give up on us

        # when the worker has tried each event until its retries ran out
        retries = revenuecat_event_process.max_retries
        wait_until(lambda: all(e.attempts > retries for e in WebhookEvent.objects.all()), timeout=90, interval=0.2)

        # then every event is still stored and pending, and nobody's plan changed on a guess
        assert WebhookEvent.objects.count() == 3
        assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"pending"}
        assert all(user_plan(user=user).name == "free" for user in players)

        # when RevenueCat is back and beat runs its re-queue
        revenuecat.up()
        wait_until(lambda: len(webhook_events_due()) == 3, timeout=10)  # their next try is due
        assert webhook_events_requeue() == 3

        # then each event is processed once and the plans are right
        wait_until(lambda: set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}, timeout=60)
    assert all(user_plan(user=user).name == "basic" for user in players)
    assert all(e.error == "" and e.processed_at for e in WebhookEvent.objects.all())
