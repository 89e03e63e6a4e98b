"""GET /billing/me (plan and usage) and POST /billing/refresh (re-read the subscription)."""

from datetime import timedelta

import pytest

from billing.periods import period_bounds
from billing.services import quota_reserve
from tests.billing.states import now, subscribed
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


def test_a_free_player_sees_plan_usage_and_reset(auth_client, user):
    for _ in range(3):
        quota_reserve(user=user)
    response = auth_client.get("/billing/me")
    assert response.status_code == 200
    body = response.json()
    start, resets_at = period_bounds("week")
    assert (body["plan"], body["period"], body["used"], body["remaining"], body["limit"]) == ("free", "week", 3,
                                                                                            27, 30)  # fmt: skip
    assert body["period_start"] == start.isoformat()
    assert body["resets_at"] == resets_at.isoformat()
    assert body["subscription"] is None


def test_a_subscriber_sees_the_store_and_expiry(deliver, revenuecat, user):
    from tests.billing.payloads import event

    expires = (now() + timedelta(days=30)).replace(microsecond=0)
    subscribed(revenuecat, str(user.public_id), "basic_special", expires=expires, store="play_store")
    deliver(event("INITIAL_PURCHASE", str(user.public_id), store="PLAY_STORE"))
    body = bearer_client(user).get("/billing/me").json()
    assert (body["plan"], body["period"], body["limit"], body["model"]) == ("basic_special", "month", 100, "o4-mini")
    assert body["subscription"]["store"] == "play_store"
    assert body["subscription"]["expires_at"] == expires.isoformat()
    assert body["subscription"]["will_renew"] is True


def test_me_needs_a_token(api_client):
    response = api_client.get("/billing/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_refresh_reads_the_subscription_from_revenuecat(revenuecat, user):
    subscribed(revenuecat, str(user.public_id))
    response = bearer_client(user).post("/billing/refresh")
    assert response.status_code == 200
    assert response.json()["plan"] == "basic"
    assert revenuecat.requests == [str(user.public_id)]


def test_refresh_when_revenuecat_is_down_is_503_and_changes_nothing(revenuecat, user):
    revenuecat.down()
    response = bearer_client(user).post("/billing/refresh")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert bearer_client(user).get("/billing/me").json()["plan"] == "free"
