"""The billing admin: staff can see subscriptions, events and usage, and re-run events; nothing is editable."""

import json

import pytest
from django.test import Client

from billing.models import Subscription, WebhookEvent
from billing.services import quota_reserve
from tests.billing.payloads import event
from tests.billing.states import subscribed

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_staff_see_every_billing_list(staff, user, deliver, revenuecat):
    subscribed(revenuecat, str(user.public_id))
    deliver(event("INITIAL_PURCHASE", str(user.public_id)))
    deliver(raw="{broken")
    quota_reserve(user=user)
    for model in ("subscription", "webhookevent", "usagecounter", "callrecord", "subscriberalias"):
        page = staff.get(f"/admin/billing/{model}/")
        assert page.status_code == 200, model
    stored = WebhookEvent.objects.exclude(status=WebhookEvent.Status.MALFORMED).get()
    detail = staff.get(f"/admin/billing/webhookevent/{stored.pk}/change/")
    assert detail.status_code == 200
    assert b"INITIAL_PURCHASE" in detail.content
    assert staff.get("/admin/billing/subscription/add/").status_code == 403


def test_a_failed_event_can_be_processed_again_from_the_admin(staff, user, deliver, revenuecat,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    deliver(event("INITIAL_PURCHASE", str(user.public_id)), process=False)
    stored = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.FAILED, error="boom")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff.post("/admin/billing/webhookevent/", {"action": "reprocess", "_selected_action": [stored.pk]})
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PENDING
    assert len(callbacks) == 1


def test_staff_can_re_read_a_subscription_from_revenuecat(staff, user, revenuecat):
    subscription = Subscription.objects.create(user=user)
    subscribed(revenuecat, str(user.public_id))
    staff.post("/admin/billing/subscription/", {"action": "refresh_from_revenuecat",
                                                "_selected_action": [subscription.pk]})  # fmt: skip
    subscription.refresh_from_db()
    assert subscription.plan == "basic"
    assert json.dumps(subscription.snapshot)
