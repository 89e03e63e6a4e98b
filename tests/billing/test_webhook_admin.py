"""RevenueCat events in the admin: the payload pretty-printed, status and error, and "process again"."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing.models import Subscription, WebhookEvent
from billing.selectors import user_plan
from billing.tasks import revenuecat_event_process
from tests.billing.payloads import event
from tests.billing.states import subscribed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
EVENTS = "/admin/billing/webhookevent/"


@pytest.fixture
def staff(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def pre_blocks(html: str) -> list[str]:
    return [unescape(block) for block in re.findall(r'<pre class="billing-pre"[^>]*>(.*?)</pre>', html, re.S)]


def reprocess(client, *events):
    return client.post(EVENTS, {"action": "reprocess", "_selected_action": [e.pk for e in events]}, follow=True)


def test_an_event_page_shows_the_payload_indented_with_status_and_error(staff, user, deliver, revenuecat):
    # given an event whose processing failed
    payload = event("INITIAL_PURCHASE", str(user.public_id))
    deliver(payload, process=False)
    stored = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.FAILED,
                                                     error="KeyError('entitlements')\n  at line 3")  # fmt: skip

    page = staff.get(f"{EVENTS}{stored.pk}/change/").content.decode()

    # then the payload is the indented JSON of what RevenueCat sent, read-only, and the error is shown whole
    blocks = pre_blocks(page)
    assert json.dumps(payload, indent=2, ensure_ascii=False) in blocks
    assert "KeyError('entitlements')\n  at line 3" in blocks
    assert re.search(r"Status:</label>\s*<div class=\"readonly\">failed</div>", page)
    assert '<textarea name="payload"' not in page and 'name="_save"' not in page


def test_a_delivery_that_is_not_json_shows_its_raw_body_escaped(staff, deliver):
    deliver(raw='{"event": {"id": <b>oops</b>')
    stored = WebhookEvent.objects.get()

    page = staff.get(f"{EVENTS}{stored.pk}/change/").content.decode()

    assert '{"event": {"id": <b>oops</b>' in pre_blocks(page)
    assert "<b>oops" not in page  # escaped, never markup
    assert "not JSON" in page


def test_a_json_body_without_an_event_is_shown_indented(staff, deliver):
    deliver(raw='{"api_version": "1.0", "event": "not an object"}')
    stored = WebhookEvent.objects.get()

    page = staff.get(f"{EVENTS}{stored.pk}/change/").content.decode()

    assert '{\n  "api_version": "1.0",\n  "event": "not an object"\n}' in pre_blocks(page)
    assert "no event object" in page


def test_the_list_shows_status_and_error(staff, user, deliver):
    deliver(raw="{broken")
    page = staff.get(EVENTS).content.decode()
    assert "malformed" in page
    assert "not JSON: Expecting property name" in page


def test_process_again_applies_a_failed_event_once_the_worker_runs_it(staff, user, deliver, revenuecat,
                                                                     django_capture_on_commit_callbacks):  # fmt: skip
    # given a purchase event that failed while RevenueCat reported the subscriber
    subscribed(revenuecat, str(user.public_id))
    deliver(event("INITIAL_PURCHASE", str(user.public_id)), process=False)
    stored = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.FAILED, error="boom", attempts=1)
    assert user_plan(user=user).name == "free"

    # when staff choose "process again"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = reprocess(staff, stored)
    assert "1 event queued for processing." in response.content.decode()
    assert len(queued) == 1
    # and the worker runs the queued task
    assert revenuecat_event_process.apply(args=(stored.pk,)).get() == WebhookEvent.Status.PROCESSED

    # then the event is processed, its error cleared, and the player has the plan
    stored.refresh_from_db()
    assert (stored.status, stored.error, stored.attempts, stored.user) == ("processed", "", 2, user)
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).plan == "basic"


def test_process_again_skips_events_already_processed_and_says_so(staff, user, deliver, revenuecat,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    subscribed(revenuecat, str(user.public_id))
    deliver(event("INITIAL_PURCHASE", str(user.public_id)))
    done = WebhookEvent.objects.get()
    assert done.status == WebhookEvent.Status.PROCESSED
    requests_before = len(revenuecat.requests)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        page = reprocess(staff, done).content.decode()

    assert "0 events queued" in page
    assert "1 event skipped" in page
    assert queued == []
    done.refresh_from_db()
    assert done.status == WebhookEvent.Status.PROCESSED
    assert len(revenuecat.requests) == requests_before


def test_staff_who_may_only_view_events_cannot_process_them_again(user, deliver):
    deliver(raw="{broken")
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookevent"))
    client = Client()
    client.force_login(viewer)
    stored = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookEvent.Status.FAILED)

    listing = client.get(EVENTS)
    assert listing.status_code == 200
    assert 'value="reprocess"' not in listing.content.decode()
    client.post(EVENTS, {"action": "reprocess", "_selected_action": [stored.pk]})
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.FAILED
