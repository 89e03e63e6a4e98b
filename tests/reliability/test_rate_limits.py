"""Rate limits per player, per client address and per question, on Redis: 429 throttled with Retry-After."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from rest_framework.test import APIClient

from billing.models import UsageCounter
from dev.demo.loader import demo_load
from tests.reliability.conftest import ASK, bearer, is_error_shape, player


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


def _client(user=None, address="203.0.113.7", **headers) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **headers)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=bearer(user)["Authorization"])
    return client


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    assert is_error_shape(response.json(), "throttled")
    assert 1 <= int(response["Retry-After"]) <= 61


@pytest.mark.django_db
def test_a_player_over_their_rate_gets_429_with_retry_after_and_others_are_untouched(rates):
    rates(user="5/min")
    flooder, other = player(), player()

    statuses = [_client(flooder).get("/auth/me").status_code for _ in range(5)]
    refused = _client(flooder).get("/api/games")

    assert statuses == [200] * 5
    _assert_throttled(refused)
    assert _client(other).get("/auth/me").status_code == 200


@pytest.mark.django_db
def test_one_address_over_its_rate_is_refused_signed_in_or_not_and_a_forged_forwarded_for_does_not_help(rates):
    rates(ip="4/min")
    user = player()

    attempts = [_client(address="198.51.100.1").post("/auth/token/refresh", {"refresh": "x"}, format="json")
                for _ in range(4)]  # fmt: skip
    forged = _client(address="198.51.100.1", HTTP_X_FORWARDED_FOR="10.9.8.7").post(
        "/auth/token/refresh", {"refresh": "x"}, format="json"
    )
    signed_in = _client(user, address="198.51.100.1").get("/auth/me")

    assert [r.status_code for r in attempts] == [401] * 4  # token guessing, counted per address
    _assert_throttled(forged)
    _assert_throttled(signed_in)
    assert _client(user, address="198.51.100.2").get("/auth/me").status_code == 200


@pytest.mark.django_db
def test_behind_our_proxy_each_client_address_has_its_own_limit(rates, settings):
    rates(ip="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"

    def via_proxy(client_address):
        forwarded = f"6.6.6.6, {client_address}"  # the client may prepend anything; our proxy appends the truth
        client = _client(address=proxy, HTTP_X_FORWARDED_FOR=forwarded)
        return client.post("/auth/token/refresh", {"refresh": "x"}, format="json").status_code

    assert [via_proxy("192.0.2.10") for _ in range(3)] == [401, 401, 429]
    assert via_proxy("192.0.2.11") == 401


@pytest.mark.django_db
def test_questions_over_the_ask_rate_are_refused_and_cost_no_call(rates):
    rates(ask="3/min")
    demo_load()
    user = player()
    client = _client(user)

    answered = [client.post(ASK, {"game": "elden-ring", "question": f"Malenia tip {n}?"}, format="json")
                for n in range(3)]  # fmt: skip
    refused = client.post(ASK, {"game": "elden-ring", "question": "One more Malenia tip?"}, format="json")

    assert [r.status_code for r in answered] == [200] * 3
    _assert_throttled(refused)  # refused before the player is read: no X-Plan-Remaining
    assert UsageCounter.objects.get(user=user, period="week").used == 3
    # other endpoints keep the general rate
    assert client.get("/api/coach/history").status_code == 200


@pytest.mark.django_db
def test_a_question_refused_by_the_ask_rate_is_not_counted_against_the_players_other_limits(rates):
    # all of a request's limits are counted together: in every window, or in none when one is full
    rates(ask="2/min", user="5/min")
    demo_load()
    client = _client(player())

    asked = [client.post(ASK, {"game": "elden-ring", "question": f"Malenia tip {n}?"}, format="json")
             for n in range(4)]  # fmt: skip
    others = [client.get("/auth/me").status_code for _ in range(4)]

    assert [r.status_code for r in asked] == [200, 200, 429, 429]
    assert others == [200, 200, 200, 429]  # 2 questions + 3 = the 5 a minute; the refused ones did not count


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simultaneous_questions_cannot_slip_past_the_ask_rate_together(asgi_server, rates, settings):
    # the ask endpoint counts its limits on the event loop (redis.asyncio), not in DRF's worker thread
    rates(ask="5/min")
    # Counting in Redis is what is tested here, not the fallback: a burst on a slow machine must not
    # time out on the event loop's own lag (tests/reliability/test_redis_outage.py has the fallback).
    settings.THROTTLE_REDIS_TIMEOUT_SECONDS = 5.0
    demo_load()
    user = player()
    headers = bearer(user)

    def ask(n: int) -> int:
        body = {"game": "elden-ring", "question": f"Malenia tip {n}?"}
        return http.post(ASK, json=body, headers=headers).status_code

    with httpx.Client(base_url=asgi_server.url, timeout=60) as http, ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(ask, range(20)))

    assert statuses.count(200) == 5
    assert statuses.count(429) == 15
    assert UsageCounter.objects.get(user=user, period="week").used == 5  # the refused ones gave their call back


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_cannot_slip_past_the_limit_together(asgi_server, rates):
    # DRF's own SimpleRateThrottle reads the history, then writes it: parallel requests all pass.
    rates(user="10/min")
    user = player()
    headers = bearer(user)

    with httpx.Client(base_url=asgi_server.url, timeout=30) as http, ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(lambda _: http.get("/api/games", headers=headers).status_code, range(40)))

    assert statuses.count(200) == 10
    assert statuses.count(429) == 30


@pytest.mark.django_db
def test_revenuecat_deliveries_are_never_rate_limited(rates, settings):
    # RevenueCat retries a refused delivery only five times: a 429 there could lose a purchase.
    rates(ip="2/min")
    settings.REVENUECAT_WEBHOOK_AUTH = "Bearer rc-webhook-secret-reliability"
    client = _client(address="54.0.0.1")

    statuses = [
        client.post("/billing/revenuecat/webhook", {"event": {"id": f"evt-{n}", "type": "TEST"}}, format="json",
                    HTTP_AUTHORIZATION="Bearer rc-webhook-secret-reliability").status_code
        for n in range(5)
    ]  # fmt: skip

    assert statuses == [200] * 5
