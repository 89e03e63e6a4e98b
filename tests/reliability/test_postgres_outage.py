"""PostgreSQL restarted under a running server: 503 database_unavailable meanwhile (at once, once the outage is
known), then it recovers by itself; a pool that is merely busy still makes requests wait for a connection."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection
from psycopg_pool import PoolTimeout

from billing.models import UsageCounter
from coach.models import QuestionLog
from dev.demo.loader import demo_load
from tests.reliability.conftest import ASK, MALENIA, bearer, is_error_shape, player, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every kind of endpoint: the async ask view (its admission reads the player and reserves the quota),
# sync DRF views, and the token refresh that reads the blacklist.
ENDPOINTS = [
    ("POST", ASK, {"game": "elden-ring", "question": "Radahn festival tips?"}),
    ("GET", "/api/coach/history", None),
    ("GET", "/auth/me", None),
    ("GET", "/billing/me", None),
    ("GET", "/api/games", None),
]


def _call(client, method, path, body, headers):
    return client.request(method, path, json=body, headers=headers, timeout=30)


def test_requests_during_a_postgres_restart_get_503_and_the_service_recovers_by_itself(asgi_server, postgres_outage):
    # given a running server that has answered a question
    demo_load()
    user = player()
    headers = bearer(user)
    client = httpx.Client(base_url=asgi_server.url)
    first = client.post(ASK, json={"game": "elden-ring", "question": MALENIA}, headers=headers, timeout=30)
    assert first.status_code == 200, first.text

    # when PostgreSQL goes away while players keep calling (at once: with a connection pool each call
    # may wait up to DB_POOL_TIMEOUT for a connection before it gives up)
    postgres_outage.stop()
    started = time.monotonic()
    with ThreadPoolExecutor(len(ENDPOINTS) + 1) as pool:
        calls = {path: pool.submit(_call, client, method, path, body, headers) for method, path, body in ENDPOINTS}
        ready_call = pool.submit(client.get, "/readyz", timeout=30)
        during = {path: call.result() for path, call in calls.items()}
        readyz = ready_call.result()
    waited = time.monotonic() - started

    # then every request got a clean 503 in the error shape, never a 500 or an HTML page
    for path, response in during.items():
        assert response.status_code == 503, (path, response.status_code, response.text)
        assert is_error_shape(response.json(), "database_unavailable"), (path, response.text)
        assert response.headers.get("retry-after"), path
    assert readyz.status_code == 503
    pool = django_settings.DATABASES["default"]["OPTIONS"].get("pool") or {}
    assert waited < pool.get("timeout", 0) + django_settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] + 5

    # and once the outage is known, players get their 503 at once instead of waiting DB_POOL_TIMEOUT for the pool
    for method, path, body in ENDPOINTS:
        started = time.monotonic()
        response = _call(client, method, path, body, headers)
        took = time.monotonic() - started
        assert response.status_code == 503 and is_error_shape(response.json(), "database_unavailable"), path
        assert took < 2, (path, f"{took:.2f} s")

    # and once it is back the same server answers again, with no restart, within a few seconds
    postgres_outage.start()
    back = time.monotonic()

    def answered():
        response = client.post(ASK, json={"game": "elden-ring", "question": "Radahn festival tips?"},
                               headers=headers, timeout=30)  # fmt: skip
        return response if response.status_code == 200 else None

    after = wait_until(answered, timeout=30, interval=0.5)
    assert time.monotonic() - back < 5
    for method, path, body in ENDPOINTS[1:]:
        assert _call(client, method, path, body, headers).status_code == 200, path
    # the asks refused during the outage cost nothing; the two answered ones cost one call each
    assert UsageCounter.objects.get(user=user, period="week").used == 2
    assert after.headers["x-plan-remaining"] == "28"
    assert QuestionLog.objects.filter(user=user, error_code="").count() == 2


def test_a_busy_pool_with_postgres_up_still_waits_for_a_free_connection(asgi_server):
    # given a server whose every pooled connection is lent out (PostgreSQL itself is fine)
    user = player()
    headers = bearer(user)
    client = httpx.Client(base_url=asgi_server.url)
    assert client.get("/billing/me", headers=headers, timeout=30).status_code == 200
    pool = connection.pool
    held = []
    try:
        while True:
            held.append(pool.getconn(timeout=0.5))
    except PoolTimeout:
        pass

    # when a player calls while they are all out, and one comes back after a while
    try:
        with ThreadPoolExecutor(1) as executor:
            started = time.monotonic()
            call = executor.submit(client.get, "/billing/me", headers=headers, timeout=30)
            time.sleep(1.5)
            pool.putconn(held.pop())
            response = call.result()
            took = time.monotonic() - started
    finally:
        for conn in held:
            pool.putconn(conn)

    # then the request waited for that connection and was answered, not refused
    assert response.status_code == 200, response.text
    assert took >= 1.5
