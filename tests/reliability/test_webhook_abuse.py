"""The RevenueCat webhook under abuse beyond tests/billing: altered replays, replay storms, forged purchases."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from billing.models import Subscription, WebhookEvent
from billing.selectors import user_plan
from billing.services import webhook_event_process
from tests.billing.payloads import event
from tests.billing.states import subscribed
from tests.factories import UserFactory
from tests.servers.revenuecat import revenuecat_configured

WEBHOOK = "/billing/revenuecat/webhook"
SECRET = "Bearer rc-webhook-secret-reliability"


@pytest.fixture
def revenuecat(settings):
    with revenuecat_configured(settings, webhook_auth=SECRET, REVENUECAT_HTTP_RETRIES=0) as server:
        yield server


def _deliver(client, body: dict, auth: str | None = SECRET):
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return client.post(WEBHOOK, data=json.dumps(body), content_type="application/json", **headers)


NEAR_MISSES = ["bearer rc-webhook-secret-reliability", f"{SECRET} ", f" {SECRET}", "rc-webhook-secret-reliability",
               f"{SECRET}, {SECRET}", "Basic " + SECRET]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("auth", NEAR_MISSES)
def test_near_miss_secrets_are_refused_and_nothing_is_stored(client, revenuecat, auth):
    victim = UserFactory()
    response = _deliver(client, event("INITIAL_PURCHASE", str(victim.public_id)), auth=auth)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_unauthorized"
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_replay_with_an_altered_body_changes_nothing(client, revenuecat, django_capture_on_commit_callbacks):
    # given a genuine purchase event, delivered and processed
    buyer, attacker = UserFactory(), UserFactory()
    subscribed(revenuecat, str(buyer.public_id))
    original = event("INITIAL_PURCHASE", str(buyer.public_id))
    assert _deliver(client, original).status_code == 200
    webhook_event_process(event_pk=WebhookEvent.objects.get().pk)

    # when it is replayed under the same id, rewritten for another user and as an expiration
    altered = json.loads(json.dumps(original))
    altered["event"].update(type="EXPIRATION", app_user_id=str(attacker.public_id), aliases=[str(attacker.public_id)])
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = _deliver(client, altered)

    # then it is acknowledged as a duplicate, nothing is queued, and the stored event is the original
    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert queued == []
    stored = WebhookEvent.objects.get()
    assert stored.payload == original and stored.type == "INITIAL_PURCHASE"
    assert user_plan(user=buyer).name == "basic" and user_plan(user=attacker).name == "free"


@pytest.mark.django_db
def test_a_forged_purchase_grants_nothing_that_revenuecat_does_not_report(
    client, revenuecat, django_capture_on_commit_callbacks
):
    # Even with the secret leaked, the plan comes from RevenueCat's own record of the subscriber.
    player = UserFactory()
    with django_capture_on_commit_callbacks(execute=False):
        response = _deliver(client, event("INITIAL_PURCHASE", str(player.public_id), entitlement_ids=["basic_special"],
                                          product_id="basic_special_monthly"))  # fmt: skip
    assert response.status_code == 200

    processed = webhook_event_process(event_pk=WebhookEvent.objects.get().pk)

    assert processed.status == "processed"
    assert user_plan(user=player).name == "free"


@pytest.mark.django_db
def test_an_event_for_an_unknown_user_creates_no_account_or_subscription(client, revenuecat):
    before = (UserFactory._meta.model.objects.count(), Subscription.objects.count())
    for app_user_id in ["$RCAnonymousID:0123456789abcdef", "00000000-0000-4000-8000-000000000000", "x' OR 1=1 --"]:
        assert _deliver(client, event("INITIAL_PURCHASE", app_user_id)).status_code == 200

    for stored in WebhookEvent.objects.all():
        assert webhook_event_process(event_pk=stored.pk).status == "ignored"
    assert (UserFactory._meta.model.objects.count(), Subscription.objects.count()) == before


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_storm_of_simultaneous_replays_stores_one_event(asgi_server, revenuecat):
    buyer = UserFactory()
    body = json.dumps(event("RENEWAL", str(buyer.public_id)))
    headers = {"Authorization": SECRET, "Content-Type": "application/json"}

    with httpx.Client(base_url=asgi_server.url, timeout=30) as http, ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: http.post(WEBHOOK, content=body, headers=headers), range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["status"] for r in responses) == ["duplicate"] * 19 + ["received"]
    assert WebhookEvent.objects.count() == 1
