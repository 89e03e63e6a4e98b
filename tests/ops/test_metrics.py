"""/metrics: who may read it, and what it counts (requests by route, LLM, caches, quota, RevenueCat, Celery)."""

import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from billing.services import quota_reserve
from coach.models import QuotaRejectionDay
from config import celery_app
from config.observability import metrics
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- access -------------------------------------------------------------------------------------------


def test_metrics_are_readable_from_loopback_by_default(client):
    assert "gamecoach_http_requests_total" in client.get("/metrics").content.decode()


def test_metrics_from_another_address_are_refused_with_403(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "metrics_forbidden"
    assert b"gamecoach_" not in response.content


@override_settings(METRICS_ALLOWED_IPS=["10.0.0.0/8"])
def test_an_allowed_network_may_read_them(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@override_settings(METRICS_ALLOWED_IPS=[], METRICS_TOKEN="scrape-token-0123456789")
def test_the_metrics_token_opens_them_from_anywhere_and_a_wrong_one_does_not(client):
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-token-0123456789"
        ).status_code
        == 200
    )
    assert (
        client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-token-wrong").status_code
        == 403
    )
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@override_settings(METRICS_ALLOWED_IPS=[], METRICS_TOKEN="")
def test_with_no_address_and_no_token_nobody_reads_them(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403


# --- what they count ----------------------------------------------------------------------------------


def test_requests_are_counted_by_route_not_by_raw_path(client, auth_client):
    route = "/api/coach/history/<uuid:question_id>"
    before = scrape(client)

    for _ in range(2):
        assert auth_client.get(f"/api/coach/history/{uuid.uuid4()}").status_code == 404

    after = scrape(client)
    labels = {"method": "GET", "route": route, "status": "404"}
    assert (
        value(after, "gamecoach_http_requests_total", **labels)
        - value(before, "gamecoach_http_requests_total", **labels)
        == 2
    )
    duration = {"method": "GET", "route": route}
    assert (
        value(after, "gamecoach_http_request_duration_seconds_count", **duration)
        - value(before, "gamecoach_http_request_duration_seconds_count", **duration)
        == 2
    )
    assert not any(
        "history/" in dict(labels).get("route", "") and "<" not in dict(labels)["route"] for _, labels in after
    )


def test_llm_usage_cache_hits_and_revenuecat_events_are_counted(client):
    before = scrape(client)

    metrics.llm_usage_record("gpt-4o-mini", 1000, 3500, Decimal("0.00225"), cached_tokens=200)
    metrics.cache_hit_record("semantic")
    metrics.cache_hit_record("exact")
    metrics.cache_hit_record("none")
    metrics.revenuecat_event_record("INITIAL_PURCHASE", "processed")

    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("gamecoach_llm_tokens_total", model="gpt-4o-mini", kind="prompt") == 1000
    assert delta("gamecoach_llm_tokens_total", model="gpt-4o-mini", kind="completion") == 3500
    assert delta("gamecoach_llm_tokens_total", model="gpt-4o-mini", kind="cached") == 200
    assert delta("gamecoach_llm_cost_usd_total", model="gpt-4o-mini") == pytest.approx(0.00225)
    assert delta("gamecoach_llm_calls_total", model="gpt-4o-mini") == 1
    for kind in ("semantic", "exact", "none"):
        assert delta("gamecoach_coach_cache_total", kind=kind) == 1
    assert delta("gamecoach_revenuecat_events_total", type="INITIAL_PURCHASE", outcome="processed") == 1


@pytest.fixture
def elden_ring(db):
    from knowledge.models import Game

    return Game.objects.create(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring")


def test_an_ask_refused_for_quota_is_counted_for_its_plan(client, user, elden_ring):
    # given a free player who used up the week's calls
    from billing.plans import plan_get

    for _ in range(plan_get("free").calls):
        quota_reserve(user=user)
    before = scrape(client)

    # when they ask again
    response = bearer_client(user).post("/api/coach/ask", {"game": "elden-ring", "question": "?"}, format="json")

    # then billing refuses it, and the refusal is counted in the metrics and for the dashboard
    assert response.status_code == 429 and response.json()["error"]["code"] == "quota_exceeded"
    after = scrape(client)
    assert (
        value(after, "gamecoach_quota_rejections_total", plan="free")
        - value(before, "gamecoach_quota_rejections_total", plan="free")
        == 1
    )
    assert list(QuotaRejectionDay.objects.values_list("plan", "rejections")) == [("free", 1)]


@celery_app.task(name="tests.ops.fails")
def _fails():
    raise ValueError("boom")


@celery_app.task(name="tests.ops.retries_once", bind=True, max_retries=1)
def _retries_once(self):
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "ok"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_celery_task_outcomes_are_counted_by_a_real_worker(client):
    from celery.contrib.testing.worker import start_worker

    from coach.tasks import daily_stats_refresh

    before = scrape(client)
    # A queue of its own, so the worker runs these and nothing other tests left in the broker.
    queue = f"ops-test-{uuid.uuid4().hex[:8]}"
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20, queues=[queue]):
        for task in (daily_stats_refresh, _fails, _retries_once):
            task.apply_async(queue=queue)
        expected = {
            ("coach.tasks.daily_stats_refresh", "success"): 1,
            ("tests.ops.fails", "failure"): 1,
            ("tests.ops.retries_once", "retry"): 1,
            ("tests.ops.retries_once", "success"): 1,
        }
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = scrape(client)
            deltas = {
                key: value(after, "gamecoach_celery_tasks_total", task=key[0], outcome=key[1])
                - value(before, "gamecoach_celery_tasks_total", task=key[0], outcome=key[1])
                for key in expected
            }
            if deltas == expected:
                break
            time.sleep(0.2)
    assert deltas == expected
    assert value(after, "gamecoach_celery_task_duration_seconds_count", task="coach.tasks.daily_stats_refresh") >= 1


_MULTIPROCESS_CHILD = """
import sys
from config.observability import metrics
if sys.argv[1] == "record":
    metrics.quota_rejection_record("basic")
    metrics.llm_usage_record("o4-mini", 10, 20, 0.5)
else:
    sys.stdout.write(metrics.metrics_text().decode())
"""


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    # given PROMETHEUS_MULTIPROC_DIR shared by two worker processes that each record
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _MULTIPROCESS_CHILD, "record"], env=env, check=True, timeout=60)

    # when a third process (the one serving /metrics) renders them
    text = subprocess.run(
        [sys.executable, "-c", _MULTIPROCESS_CHILD, "render"],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout

    # then it reports both processes' counts added up
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("gamecoach_quota_rejections_total", (("plan", "basic"),))] == 2
    assert samples[("gamecoach_llm_cost_usd_total", (("model", "o4-mini"),))] == 1.0


def test_the_async_stack_counts_a_quota_rejection_too(user, elden_ring):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from billing.plans import plan_get

    for _ in range(plan_get("free").calls):
        quota_reserve(user=user)
    token = RefreshToken.for_user(user).access_token

    response = async_to_sync(AsyncClient().post)(
        "/api/coach/ask",
        {"game": "elden-ring", "question": "?"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 429
    assert list(QuotaRejectionDay.objects.values_list("plan", "rejections")) == [("free", 1)]
