"""QuotaMiddleware on the coach's question endpoints: 401, X-Plan-Remaining, 429, refunds, sync and async."""

import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from billing.models import Subscription
from billing.selectors import usage_summary
from billing.services import quota_reserve
from tests.billing import urls as test_urls
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing.urls")]
PATHS = ["/api/coach/ask", "/api/coach/ask-async", "/api/coach/ask-cached", "/api/coach/ask-fails",
         "/api/coach/ask-crashes"]  # fmt: skip


@pytest.fixture(autouse=True)
def _quota_paths(settings):
    settings.QUOTA_PATHS = PATHS
    test_urls.calls["count"] = 0


def token(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


def ask(client, user, path="/api/coach/ask"):
    return client.post(path, {"question": "말레니아 2페이즈 어떻게 피해요?"}, format="json",
                       HTTP_AUTHORIZATION=token(user))  # fmt: skip


def test_an_answer_carries_the_calls_left(api_client, user):
    response = ask(api_client, user)
    assert response.status_code == 200
    assert response["X-Plan-Remaining"] == "29"
    assert response.json()["plan"] == "free"
    assert ask(api_client, user)["X-Plan-Remaining"] == "28"


@pytest.mark.parametrize("authorization", [None, "", "Bearer not-a-jwt", "Token abc", "Bearer a b"])
def test_a_question_without_a_valid_token_is_401_and_costs_nothing(api_client, user, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = api_client.post("/api/coach/ask", {"question": "?"}, format="json", **headers)
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] in {"not_authenticated", "token_not_valid", "bad_authorization_header"}
    assert body["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert test_urls.calls["count"] == 0
    assert usage_summary(user=user)["used"] == 0


def test_an_inactive_players_token_is_refused(api_client):
    user = UserFactory(is_active=False)
    response = ask(api_client, user)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"


def test_when_the_quota_is_used_up_the_answer_is_429_and_the_coach_is_never_asked(api_client, user):
    for _ in range(30):
        quota_reserve(user=user)
    response = ask(api_client, user)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert error["details"]["resets_at"] == usage_summary(user=user)["resets_at"]
    assert int(response["Retry-After"]) > 0
    assert response["X-Plan-Remaining"] == "0"
    assert "answer" not in response.json()
    assert test_urls.calls["count"] == 0


def test_a_failed_answer_gives_its_call_back(api_client, user):
    response = ask(api_client, user, "/api/coach/ask-fails")
    assert response.status_code == 503
    assert response["X-Plan-Remaining"] == "30"
    assert usage_summary(user=user)["used"] == 0


def test_a_crashing_coach_gives_its_call_back(api_client, user):
    response = ask(api_client, user, "/api/coach/ask-crashes")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert usage_summary(user=user)["used"] == 0


def test_an_answer_from_the_exact_cache_costs_nothing(api_client, user):
    response = ask(api_client, user, "/api/coach/ask-cached")
    assert response.status_code == 200
    assert response["X-Plan-Remaining"] == "30"
    assert usage_summary(user=user)["used"] == 0


def test_an_async_view_is_counted_the_same_way(user):
    client, authorization = AsyncClient(), token(user)

    async def ask_async(path):
        return await client.post(path, {"question": "?"}, content_type="application/json",
                                 headers={"Authorization": authorization})  # fmt: skip

    first = async_to_sync(ask_async)("/api/coach/ask-async")
    cached = async_to_sync(ask_async)("/api/coach/ask-async?cached=1")
    assert (first.status_code, first["X-Plan-Remaining"]) == (200, "29")
    assert (cached.status_code, cached["X-Plan-Remaining"]) == (200, "29")
    assert usage_summary(user=user)["used"] == 1


def test_an_async_view_refuses_past_the_quota_and_without_a_token(user):
    client = AsyncClient()
    for _ in range(30):
        quota_reserve(user=user)
    refused = async_to_sync(client.post)("/api/coach/ask-async", {}, content_type="application/json",
                                         headers={"Authorization": token(user)})  # fmt: skip
    anonymous = async_to_sync(client.post)("/api/coach/ask-async", {}, content_type="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert anonymous.status_code == 401
    assert test_urls.calls["count"] == 0


def test_other_methods_and_paths_are_not_counted(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION=token(user))
    assert api_client.get("/api/coach/ask").status_code == 200
    assert api_client.get("/billing/me").status_code == 200
    assert usage_summary(user=user)["used"] == 0


def test_a_trailing_slash_is_the_same_endpoint(api_client, user, settings):
    settings.QUOTA_PATHS = ["/api/coach/ask/"]
    response = ask(api_client, user)
    assert response["X-Plan-Remaining"] == "29"


def test_an_upgrade_shows_in_the_next_answer(api_client, user):
    for _ in range(29):
        quota_reserve(user=user)
    assert ask(api_client, user)["X-Plan-Remaining"] == "0"
    Subscription.objects.create(user=user, plan="basic")
    assert ask(api_client, user)["X-Plan-Remaining"] == str(200 - 31)


def test_the_quota_holds_when_redis_is_down(api_client, user, settings):
    # Redis unreachable: nothing about the quota depends on it, so it stays exact
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}  # fmt: skip
    statuses = [ask(api_client, user).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_questions_through_the_endpoint_get_exactly_the_calls_left():
    user = UserFactory()
    for _ in range(27):
        quota_reserve(user=user)
    statuses, barrier = [], threading.Barrier(10)

    def question():
        client = APIClient()
        barrier.wait(timeout=30)
        statuses.append(ask(client, user).status_code)
        connection.close()

    threads = [threading.Thread(target=question) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * 3 + [429] * 7
    assert test_urls.calls["count"] == 3
