"""API error messages in the language the app asks for (Accept-Language: ko or en), with the same codes."""

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

pytestmark = pytest.mark.django_db

KO = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9,en-US;q=0.8"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def _error(response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def test_a_korean_app_gets_drf_errors_in_korean_with_the_same_code(api_client):
    korean = _error(api_client.get("/api/games", **KO))
    english = _error(api_client.get("/api/games", **EN))

    assert english == (401, "not_authenticated", "Authentication credentials were not provided.")
    assert korean[:2] == english[:2]
    assert korean[2] == "자격 인증 데이터가 제공되지 않았습니다."


def test_our_own_errors_follow_accept_language(settings, api_client):
    settings.REVENUECAT_WEBHOOK_AUTH = "Bearer right"
    webhook = "/billing/revenuecat/webhook"

    korean = _error(api_client.post(webhook, {}, format="json", HTTP_AUTHORIZATION="Bearer wrong", **KO))
    english = _error(api_client.post(webhook, {}, format="json", HTTP_AUTHORIZATION="Bearer wrong", **EN))

    assert english == (401, "webhook_unauthorized",
                       "The Authorization header does not match the configured webhook secret.")  # fmt: skip
    assert korean == (401, "webhook_unauthorized", "Authorization 헤더가 설정된 웹훅 비밀 값과 일치하지 않습니다.")


def test_an_error_raised_with_its_own_message_is_translated_too(auth_client):
    korean = _error(auth_client.patch("/auth/me", {"favourite_games": ["no-such-game"]}, format="json", **KO))
    english = _error(auth_client.patch("/auth/me", {"favourite_games": ["no-such-game"]}, format="json", **EN))

    assert english == (400, "unknown_game", "Unknown game.")
    assert korean == (400, "unknown_game", "알 수 없는 게임입니다.")


def test_errors_written_by_the_middleware_follow_accept_language(api_client):
    # An unknown path: Django's 404 page rewritten into the error shape.
    assert _error(api_client.get("/api/no-such-thing", **KO)) == (404, "not_found", "해당 엔드포인트가 없습니다.")
    assert _error(api_client.get("/api/no-such-thing", **EN)) == (404, "not_found", "No such endpoint.")
    # A body over the limit: refused before LocaleMiddleware runs.
    big = "x" * (70 * 1024)
    refused = api_client.post("/api/coach/ask", big, content_type="application/json", **KO)
    assert _error(refused) == (413, "request_too_large", "요청 본문이 너무 큽니다.")


def test_the_language_is_chosen_per_request_under_asgi_too():
    client = AsyncClient()
    korean = async_to_sync(client.get)("/api/games", headers={"Accept-Language": "ko"})
    english = async_to_sync(client.get)("/api/games", headers={"Accept-Language": "en"})

    assert _error(korean)[2] == "자격 인증 데이터가 제공되지 않았습니다."
    assert _error(english)[2] == "Authentication credentials were not provided."
    assert korean["Content-Language"] == "ko" and english["Content-Language"] == "en"


@pytest.mark.parametrize("header", [None, "fr-FR,fr;q=0.9", "*"])
def test_an_app_that_asks_for_neither_language_gets_english(api_client, header):
    extra = {"HTTP_ACCEPT_LANGUAGE": header} if header else {}
    assert _error(api_client.get("/api/games", **extra))[2] == "Authentication credentials were not provided."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_body_refused_in_front_of_django_is_refused_in_the_apps_language(asgi_server, settings):
    # Over a real server the ASGI wrapper refuses it before Django (and LocaleMiddleware) sees the request.
    settings.MAX_REQUEST_BODY_BYTES = 4096
    body = b"x" * 5000
    with httpx.Client(base_url=asgi_server.url, timeout=30) as http:
        korean = http.post("/api/coach/ask", content=body, headers={"Accept-Language": "ko"})
        english = http.post("/api/coach/ask", content=body, headers={"Accept-Language": "en-GB"})

    assert _error(korean) == (413, "request_too_large", "요청 본문이 너무 큽니다.")
    assert _error(english) == (413, "request_too_large", "The request body is too large.")
