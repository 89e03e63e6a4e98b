"""The RevenueCat webhook: who may call it, what is stored, and the plan each event leads to."""

import json
import logging
import random
from datetime import timedelta

import pytest

from billing.models import SubscriberAlias, Subscription, WebhookEvent
from billing.selectors import user_plan
from billing.services import webhook_event_process
from billing.services.maintenance import webhook_events_due
from tests.billing.conftest import WEBHOOK_AUTH
from tests.billing.payloads import event, transfer
from tests.billing.states import expired, now, subscribed
from tests.factories import UserFactory
from tests.servers.revenuecat import entitlement, subscription

pytestmark = pytest.mark.django_db

DOCUMENTED_TYPES = [
    "INITIAL_PURCHASE", "RENEWAL", "PRODUCT_CHANGE", "CANCELLATION", "UNCANCELLATION", "NON_RENEWING_PURCHASE",
    "EXPIRATION", "BILLING_ISSUE", "SUBSCRIPTION_PAUSED", "SUBSCRIPTION_EXTENDED", "TRANSFER", "SUBSCRIBER_ALIAS",
    "TEMPORARY_ENTITLEMENT_GRANT", "REFUND_REVERSED", "INVOICE_ISSUANCE", "VIRTUAL_CURRENCY_TRANSACTION",
    "EXPERIMENT_ENROLLMENT", "TEST",
]  # fmt: skip


def app_id(user) -> str:
    return str(user.public_id)


# --- the caller ---------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, "", "Bearer wrong-secret", WEBHOOK_AUTH + "x", WEBHOOK_AUTH[:-1]])
def test_missing_or_wrong_authorization_is_401_and_nothing_is_stored(deliver, user, auth):
    # given a purchase event for a user, when it comes without the configured Authorization value
    response = deliver(event("INITIAL_PURCHASE", app_id(user)), auth=auth)
    # then it is refused in the error shape and nothing is kept or queued
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "webhook_unauthorized"
    assert WebhookEvent.objects.count() == 0
    assert response.queued == 0


def test_webhook_without_a_configured_secret_refuses_everything(deliver, settings, user):
    settings.REVENUECAT_WEBHOOK_AUTH = ""
    response = deliver(event("INITIAL_PURCHASE", app_id(user)), auth="")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_not_configured"
    assert WebhookEvent.objects.count() == 0


# --- bad bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"event": {"id": "abc", "type": "INITIAL_PURCHASE"', "not json at all", "[1, 2]", '{"api_version": "1.0"}',
     '{"event": {"type": "RENEWAL"}}', '{"event": {"id": "", "type": "RENEWAL"}}', '{"event": {"id": "x"}}',
     '{"event": {"id": "nul", "type": "RENEWAL", "app_user_id": "a\\u0000b"}}'],
)  # fmt: skip
def test_malformed_body_is_400_kept_for_inspection_and_changes_nothing(deliver, revenuecat, user, raw):
    subscribed(revenuecat, app_id(user))
    response = deliver(raw=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    kept = WebhookEvent.objects.get()
    assert kept.status == WebhookEvent.Status.MALFORMED
    assert kept.raw_body.replace("\ufffd", "\x00") == raw
    assert kept.error
    assert response.queued == 0
    assert revenuecat.requests == []
    assert not Subscription.objects.exists()


# --- storing, idempotency -----------------------------------------------------------------------


def test_event_is_stored_whole_and_processing_is_queued_after_commit(deliver, user):
    payload = event("INITIAL_PURCHASE", app_id(user))
    response = deliver(payload, process=False)
    assert response.status_code == 200
    assert response.json() == {"status": "received", "event_id": payload["event"]["id"]}
    stored = WebhookEvent.objects.get()
    assert stored.event_id == payload["event"]["id"]
    assert stored.type == "INITIAL_PURCHASE"
    assert stored.app_user_id == app_id(user)
    assert stored.environment == "PRODUCTION"
    assert stored.event_timestamp_ms == payload["event"]["event_timestamp_ms"]
    assert json.loads(stored.raw_body) == payload
    assert stored.status == WebhookEvent.Status.PENDING
    assert response.queued == 1


def test_redelivery_answers_200_and_changes_nothing(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    payload = event("INITIAL_PURCHASE", app_id(user))
    first = deliver(payload)
    processed_at = WebhookEvent.objects.get().processed_at
    again = deliver(payload)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "duplicate"
    assert again.queued == 0
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().processed_at == processed_at
    assert revenuecat.requests == [app_id(user)]


def test_processing_an_event_twice_reads_revenuecat_once(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    stored = WebhookEvent.objects.get()
    webhook_event_process(event_pk=stored.pk)
    assert revenuecat.requests == [app_id(user)]
    assert user_plan(user=user).name == "basic"


# --- the plan each event leads to ---------------------------------------------------------------


def test_initial_purchase_grants_the_plan_of_the_entitlement(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), "basic")
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    assert user_plan(user=user).name == "basic"
    subscription = Subscription.objects.get(user=user)
    assert subscription.store == "app_store"
    assert subscription.product_id == "basic_weekly"
    assert subscription.will_renew is True
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert WebhookEvent.objects.get().user == user


def test_cancellation_keeps_access_until_expiration(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    # the player turns auto-renew off: RevenueCat still shows the entitlement until it expires
    subscribed(revenuecat, app_id(user), unsubscribed=now())
    deliver(event("CANCELLATION", app_id(user)))
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).will_renew is False
    expired(revenuecat, app_id(user))
    deliver(event("EXPIRATION", app_id(user)))
    assert user_plan(user=user).name == "free"


def test_pause_keeps_access_until_the_subscription_expires(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), store="play_store")
    deliver(event("INITIAL_PURCHASE", app_id(user), store="PLAY_STORE"))
    deliver(event("SUBSCRIPTION_PAUSED", app_id(user), store="PLAY_STORE"))
    assert user_plan(user=user).name == "basic"
    expired(revenuecat, app_id(user))
    deliver(event("EXPIRATION", app_id(user), store="PLAY_STORE", expiration_reason="SUBSCRIPTION_PAUSED"))
    assert user_plan(user=user).name == "free"


def test_billing_issue_keeps_access_during_the_grace_period(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), expires=now() - timedelta(minutes=5), grace_until=now() + timedelta(days=3),
               billing_issue=now() - timedelta(minutes=5))  # fmt: skip
    deliver(event("BILLING_ISSUE", app_id(user)))
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).billing_issue_detected_at is not None


def test_product_change_to_basic_special_switches_to_the_monthly_plan(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), "basic")
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    subscribed(revenuecat, app_id(user), "basic_special", expires=now() + timedelta(days=30))
    deliver(event("PRODUCT_CHANGE", app_id(user), new_product_id="basic_special_monthly"))
    plan = user_plan(user=user)
    assert (plan.name, plan.period, plan.calls, plan.model) == ("basic_special", "month", 100, "o4-mini")


def test_refund_that_revokes_the_entitlement_ends_access(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    # RevenueCat ends the entitlement at the refund; the REST read says so, whatever the event type
    subscribed(revenuecat, app_id(user), expires=now() - timedelta(seconds=1), refunded=now())
    deliver(event("CANCELLATION", app_id(user), cancel_reason="CUSTOMER_SUPPORT"))
    assert user_plan(user=user).name == "free"
    subscribed(revenuecat, app_id(user))
    deliver(event("REFUND_REVERSED", app_id(user)))
    assert user_plan(user=user).name == "basic"


def test_promotional_temporary_entitlement_grants_the_plan(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), store="promotional", expires=now() + timedelta(days=1))
    deliver(event("TEMPORARY_ENTITLEMENT_GRANT", app_id(user), store="PROMOTIONAL"))
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).will_renew is False


def test_product_ids_can_map_to_plans_by_configuration(deliver, revenuecat, settings, user):
    settings.REVENUECAT_ENTITLEMENT_PLANS = {}
    settings.REVENUECAT_PRODUCT_PLANS = {"basic_special_monthly": "basic_special"}
    revenuecat.set_subscriber(
        app_id(user), subscriptions={"basic_special_monthly": subscription(expires=now() + timedelta(days=30))}
    )
    deliver(event("INITIAL_PURCHASE", app_id(user), entitlement_ids=[]))
    assert user_plan(user=user).name == "basic_special"


def test_the_higher_plan_wins_when_two_are_active(deliver, revenuecat, user):
    week, month = now() + timedelta(days=7), now() + timedelta(days=30)
    revenuecat.set_subscriber(
        app_id(user),
        entitlements={"basic": entitlement("basic_weekly", expires=week),
                      "basic_special": entitlement("basic_special_monthly", expires=month)},
        subscriptions={"basic_weekly": subscription(expires=week),
                       "basic_special_monthly": subscription(expires=month)},
    )  # fmt: skip
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    assert user_plan(user=user).name == "basic_special"


# --- finding the user ---------------------------------------------------------------------------


def test_purchase_made_anonymously_reaches_the_user_through_aliases(deliver, revenuecat, user):
    anonymous = "$RCAnonymousID:8069238d6049ce87cc529853916d624c"
    subscribed(revenuecat, app_id(user))
    # bought before signing in; RevenueCat lists our id among the aliases
    deliver(event("INITIAL_PURCHASE", anonymous, aliases=[anonymous, app_id(user)], original_app_user_id=anonymous))
    assert user_plan(user=user).name == "basic"
    assert SubscriberAlias.objects.get(app_user_id=anonymous).user == user
    # a later event that names only the anonymous id still finds the user
    expired(revenuecat, app_id(user))
    deliver(event("EXPIRATION", anonymous, aliases=[anonymous], original_app_user_id=anonymous))
    assert user_plan(user=user).name == "free"
    assert revenuecat.requests == [app_id(user), app_id(user)]  # always re-read under our own id


def test_original_app_user_id_finds_the_user(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    deliver(event("RENEWAL", "someone-else-alias", aliases=[], original_app_user_id=app_id(user)))
    assert user_plan(user=user).name == "basic"


def test_event_for_nobody_we_know_is_ignored_and_acknowledged(deliver, revenuecat):
    response = deliver(event("INITIAL_PURCHASE", "$RCAnonymousID:0000"))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.IGNORED
    assert "no user" in stored.note
    assert revenuecat.requests == []


def test_transfer_moves_the_plan_from_one_user_to_another(deliver, revenuecat):
    old, new = UserFactory(), UserFactory()
    subscribed(revenuecat, app_id(old))
    deliver(event("INITIAL_PURCHASE", app_id(old)))
    assert user_plan(user=old).name == "basic"
    # the purchase is restored on another account: RevenueCat moves it
    expired(revenuecat, app_id(old))
    revenuecat.subscribers[app_id(old)]["entitlements"] = {}
    revenuecat.subscribers[app_id(old)]["subscriptions"] = {}
    subscribed(revenuecat, app_id(new))
    response = deliver(transfer([app_id(old)], [app_id(new)]))
    assert response.status_code == 200
    assert user_plan(user=old).name == "free"
    assert user_plan(user=new).name == "basic"
    assert WebhookEvent.objects.get(type="TRANSFER").status == WebhookEvent.Status.PROCESSED


# --- sandbox ------------------------------------------------------------------------------------


def test_sandbox_event_does_not_grant_a_production_plan(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), is_sandbox=True)
    deliver(event("INITIAL_PURCHASE", app_id(user), environment="SANDBOX"))
    assert user_plan(user=user).name == "free"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert revenuecat.requests == []


def test_sandbox_purchase_seen_through_a_production_event_grants_nothing(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user), is_sandbox=True)
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    assert user_plan(user=user).name == "free"


def test_sandbox_grants_plans_when_configured(deliver, revenuecat, settings, user):
    settings.REVENUECAT_ALLOW_SANDBOX = True
    subscribed(revenuecat, app_id(user), is_sandbox=True)
    deliver(event("INITIAL_PURCHASE", app_id(user), environment="SANDBOX"))
    assert user_plan(user=user).name == "basic"
    assert Subscription.objects.get(user=user).is_sandbox is True


# --- every type, unknown types ------------------------------------------------------------------


@pytest.mark.parametrize("event_type", DOCUMENTED_TYPES)
def test_every_documented_event_type_is_handled(deliver, revenuecat, user, event_type):
    subscribed(revenuecat, app_id(user))
    payload = transfer([], [app_id(user)]) if event_type == "TRANSFER" else event(event_type, app_id(user))
    response = deliver(payload)
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED, stored.error or stored.note
    informational = {"INVOICE_ISSUANCE", "VIRTUAL_CURRENCY_TRANSACTION", "EXPERIMENT_ENROLLMENT", "TEST"}
    expected_plan = "free" if event_type in informational else "basic"
    assert user_plan(user=user).name == expected_plan


def test_unknown_event_type_is_stored_logged_and_acknowledged(deliver, revenuecat, user, caplog):
    with caplog.at_level(logging.WARNING, logger="billing"):
        response = deliver(event("SOMETHING_NEW_IN_2027", app_id(user)))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.IGNORED
    assert "SOMETHING_NEW_IN_2027" in caplog.text
    assert user_plan(user=user).name == "free"


# --- order and repetition -----------------------------------------------------------------------


def _lifecycle(user) -> list[dict]:
    uid = app_id(user)
    return [event("INITIAL_PURCHASE", uid), event("RENEWAL", uid), event("BILLING_ISSUE", uid),
            event("RENEWAL", uid), event("CANCELLATION", uid), event("UNCANCELLATION", uid),
            event("PRODUCT_CHANGE", uid), event("SUBSCRIPTION_EXTENDED", uid)]  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_and_replayed_deliveries_reach_the_same_plan(deliver, revenuecat, seed):
    # given the state RevenueCat reports once a subscriber's events have all happened
    ended, active = UserFactory(), UserFactory()
    expired(revenuecat, app_id(ended))
    subscribed(revenuecat, app_id(active), "basic_special", expires=now() + timedelta(days=30))
    deliveries = [*_lifecycle(ended), event("EXPIRATION", app_id(ended)), *_lifecycle(active)]
    deliveries += random.Random(seed).sample(deliveries, 6)  # RevenueCat's retries repeat some
    random.Random(seed).shuffle(deliveries)
    # when they arrive in any order, some twice
    for payload in deliveries:
        assert deliver(payload).status_code == 200
    # then the plans are the ones RevenueCat reports, and nothing is left pending
    assert user_plan(user=ended).name == "free"
    assert user_plan(user=active).name == "basic_special"
    assert not WebhookEvent.objects.exclude(status=WebhookEvent.Status.PROCESSED).exists()


def test_an_event_older_than_one_already_reflected_needs_no_new_read(deliver, revenuecat, user):
    expired(revenuecat, app_id(user))
    late_purchase = event("INITIAL_PURCHASE", app_id(user), event_timestamp_ms=1_000)
    deliver(event("EXPIRATION", app_id(user), event_timestamp_ms=2_000))
    deliver(late_purchase)
    assert revenuecat.requests == [app_id(user)]
    assert user_plan(user=user).name == "free"
    assert WebhookEvent.objects.get(type="INITIAL_PURCHASE").status == WebhookEvent.Status.PROCESSED


# --- RevenueCat's REST API failing --------------------------------------------------------------


def test_rest_api_down_leaves_the_event_pending_until_it_is_back(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    revenuecat.down()
    response = deliver(event("INITIAL_PURCHASE", app_id(user)))
    # RevenueCat is still answered 200: the event is ours now
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PENDING
    assert stored.attempts == 1
    assert "GET subscriber failed" in stored.error
    assert stored.next_attempt_at > stored.received_at
    assert user_plan(user=user).name == "free"
    # not due before its retry time; due after it
    assert webhook_events_due() == []
    assert webhook_events_due(now=stored.next_attempt_at) == [stored.pk]
    # when the API is back, the retry applies it
    revenuecat.up()
    webhook_event_process(event_pk=stored.pk)
    stored.refresh_from_db()
    assert stored.status == WebhookEvent.Status.PROCESSED
    assert stored.error == ""
    assert user_plan(user=user).name == "basic"


def test_rest_api_answering_500_keeps_the_event_pending(deliver, revenuecat, settings, user):
    settings.REVENUECAT_HTTP_RETRIES = 1
    subscribed(revenuecat, app_id(user))
    revenuecat.fail(500, times=2)
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PENDING
    assert "HTTP 500" in stored.error
    assert user_plan(user=user).name == "free"


def test_one_rest_api_hiccup_is_retried_by_the_client(deliver, revenuecat, user):
    subscribed(revenuecat, app_id(user))
    revenuecat.fail(503, times=1)
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert user_plan(user=user).name == "basic"
    assert len(revenuecat.requests) == 2


def test_wrong_rest_api_key_keeps_events_pending(deliver, revenuecat, settings, user):
    settings.REVENUECAT_API_KEY = "sk_wrong"
    subscribed(revenuecat, app_id(user))
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PENDING
    assert "HTTP 401" in stored.error


def test_events_whose_queueing_was_lost_are_requeued_by_the_beat(deliver, user):
    deliver(event("INITIAL_PURCHASE", app_id(user)), process=False)
    stored = WebhookEvent.objects.get()
    assert webhook_events_due() == []
    assert webhook_events_due(now=stored.received_at + timedelta(minutes=3)) == [stored.pk]


def test_an_unexpected_subscriber_shape_marks_the_event_failed_not_lost(deliver, revenuecat, user, caplog):
    revenuecat.set_subscriber(app_id(user))
    revenuecat.subscribers[app_id(user)]["entitlements"] = ["not", "an", "object"]
    with caplog.at_level(logging.ERROR, logger="billing"):
        response = deliver(event("INITIAL_PURCHASE", app_id(user)))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.FAILED
    assert "AttributeError" in stored.error
    assert "failed" in caplog.text
    assert user_plan(user=user).name == "free"


# --- what /metrics counts -----------------------------------------------------------------------


def test_processed_events_are_counted_by_type_and_outcome_on_metrics(deliver, revenuecat, user, client):
    from tests.ops.test_metrics import scrape, value

    before = scrape(client)
    # given one event of each outcome: applied, for nobody we know, of an unknown type, RevenueCat down, broken
    subscribed(revenuecat, app_id(user))
    deliver(event("INITIAL_PURCHASE", app_id(user)))
    deliver(event("RENEWAL", "$RCAnonymousID:0000"))
    deliver(event(f"NEW_TYPE_{random.randrange(10**6)}", app_id(user)))
    revenuecat.down()
    deliver(event("CANCELLATION", app_id(user)))
    revenuecat.up()
    revenuecat.subscribers[app_id(user)]["entitlements"] = ["not", "an", "object"]
    deliver(event("EXPIRATION", app_id(user)))
    after = scrape(client)

    def counted(type, outcome):
        labels = {"type": type, "outcome": outcome}
        return value(after, "gamecoach_revenuecat_events_total", **labels) - value(
            before, "gamecoach_revenuecat_events_total", **labels
        )

    # then each is counted once, and an unknown type is one series whatever its name
    assert counted("INITIAL_PURCHASE", "processed") == 1
    assert counted("RENEWAL", "ignored") == 1
    assert counted("unknown", "ignored") == 1
    assert counted("CANCELLATION", "retry") == 1
    assert counted("EXPIRATION", "failed") == 1
