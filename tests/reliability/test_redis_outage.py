"""Redis stopped under a running server and started again: asks answered, quotas and rate limits hold, it recovers."""

import json
import time

import httpx
import pytest
import redis
from django.conf import settings as django_settings

from billing.models import UsageCounter, WebhookEvent
from coach.models import Feedback, QuestionLog
from dev.demo.loader import demo_load
from tests.billing.payloads import event
from tests.reliability.conftest import ASK, MALENIA, bearer, is_error_shape, player, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WEBHOOK_AUTH = "Bearer rc-webhook-secret-reliability"


@pytest.fixture
def fast_recovery(settings):
    """Redis is tried again 0.2 s after a failure (production: a couple of seconds)."""
    settings.COACH_CACHE_RETRY_SECONDS = 0.2
    settings.THROTTLE_REDIS_RETRY_SECONDS = 0.2
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ask": "6/min"},
    }
    settings.REVENUECAT_WEBHOOK_AUTH = WEBHOOK_AUTH


def _ask(client, user, question, **extra):
    started = time.monotonic()
    response = client.post(ASK, json={"game": "elden-ring", "question": question, **extra},
                           headers=bearer(user), timeout=30)  # fmt: skip
    response.elapsed_s = time.monotonic() - started
    return response


def _used(user) -> int:
    return UsageCounter.objects.get(user=user, period="week").used


def test_with_redis_down_asks_are_answered_quotas_and_rate_limits_hold_and_it_all_recovers(
    asgi_server, redis_outage, fast_recovery
):
    # given a running server whose caches have seen one question
    demo_load()
    asker, nearly_out, flooder = player("basic"), player(), player("basic")
    UsageCounter.objects.create(user=nearly_out, period="week", period_start=_week_start(), used=28)
    client = httpx.Client(base_url=asgi_server.url)
    first = _ask(client, asker, MALENIA)
    assert first.status_code == 200 and first.json()["cache"] == "none"
    assert _ask(client, asker, MALENIA).json()["cache"] == "exact"

    # when Redis stops
    redis_outage.stop()

    # then the same question is answered again, without the caches, quickly, and costs its call
    again = _ask(client, asker, MALENIA)
    assert again.status_code == 200, again.text
    assert again.json()["cache"] == "none" and again.json()["answer"]
    assert again.elapsed_s < 5
    assert _used(asker) == 2
    # a down-vote is recorded (the cache eviction it triggers fails open)
    rated = client.post(f"/api/coach/answers/{again.json()['id']}/feedback", json={"rating": "down"},
                        headers=bearer(asker), timeout=30)  # fmt: skip
    assert rated.status_code == 200, rated.text
    # quotas hold: 2 calls left means 2 answers, then 429 quota_exceeded, never unlimited
    statuses = [_ask(client, nearly_out, f"Radahn tip {n}?").status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert _used(nearly_out) == 30
    # rate limits fail safe: counted in memory, 6 a minute, then 429 throttled with Retry-After
    flood = [_ask(client, flooder, f"Malenia tip {n}?") for n in range(8)]
    assert [r.status_code for r in flood] == [200] * 6 + [429] * 2
    assert is_error_shape(flood[-1].json(), "throttled") and int(flood[-1].headers["retry-after"]) > 0
    assert _used(flooder) == 6  # a throttled ask costs no call
    # a RevenueCat delivery is still stored and acknowledged (the broker is down; the beat re-queues it)
    delivery = client.post(
        "/billing/revenuecat/webhook",
        content=json.dumps(event("RENEWAL", str(asker.public_id))),
        headers={"Authorization": WEBHOOK_AUTH, "Content-Type": "application/json"},
        timeout=30,
    )
    assert delivery.status_code == 200, delivery.text
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING

    # when Redis comes back, with no restart of the server
    redis_outage.start()

    # then the caches work again: a new question, asked twice, is an exact hit the second time
    def cached_again():
        _ask(client, asker, "Radahn festival: how do I use the spirit summons?")
        return _ask(client, asker, "Radahn festival: how do I use the spirit summons?").json()["cache"] == "exact"

    wait_until(cached_again, timeout=15, interval=0.3)
    # and the rate limits are counted in Redis again
    keys = redis.Redis.from_url(django_settings.THROTTLE_REDIS_URL).keys("throttle:*")
    assert keys
    # nothing was lost: one log per ask, one feedback, quotas exact
    assert QuestionLog.objects.filter(user=nearly_out).count() == 2
    assert Feedback.objects.filter(answer_id=again.json()["id"], rating="down").count() == 1


def _week_start():
    from billing.periods import period_bounds

    return period_bounds("week")[0]
