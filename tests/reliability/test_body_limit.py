"""Request bodies above MAX_REQUEST_BODY_BYTES are refused with 413 before anything reads or parses them."""

import json

import httpx
import pytest
from rest_framework.test import APIClient

from billing.models import CallRecord
from coach.models import QuestionLog
from tests.conftest import bearer_client
from tests.reliability.conftest import ASK, bearer, is_error_shape, player

LIMIT = 4096


@pytest.fixture
def small_limit(settings):
    settings.MAX_REQUEST_BODY_BYTES = LIMIT


def _big_question() -> bytes:
    return json.dumps({"game": "elden-ring", "question": "말레니아 " * LIMIT}).encode()


@pytest.mark.django_db
def test_an_oversized_ask_is_413_before_parsing_and_costs_nothing(small_limit):
    user = player()
    client = bearer_client(user)

    too_big = client.post(ASK, data=_big_question(), content_type="application/json")
    not_even_json = client.post(ASK, data=b"{" * (LIMIT + 1), content_type="application/json")

    for response in (too_big, not_even_json):
        assert response.status_code == 413
        assert is_error_shape(response.json(), "request_too_large")
        assert response.json()["error"]["details"] == {"max_bytes": LIMIT}
    assert not CallRecord.objects.exists() and not QuestionLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/auth/google", "/billing/revenuecat/webhook", "/auth/me", "/api/coach/ask"])
def test_every_api_endpoint_refuses_an_oversized_body(small_limit, path):
    response = APIClient().generic("POST" if path != "/auth/me" else "PATCH", path, data=b"x" * (LIMIT + 1),
                                   content_type="application/json")  # fmt: skip

    assert response.status_code == 413
    assert is_error_shape(response.json(), "request_too_large")


@pytest.mark.django_db
def test_a_body_at_the_limit_is_read_as_usual(small_limit):
    body = json.dumps({"id_token": "x"}).encode().ljust(LIMIT)  # JSON allows trailing spaces

    response = APIClient().post("/auth/google", data=body, content_type="application/json")

    assert response.status_code != 413


@pytest.mark.django_db
def test_the_admin_takes_longer_bodies_for_pasted_guides(small_limit, client):
    response = client.post("/admin/login/", {"username": "staff", "password": "x" * (LIMIT * 4)})

    assert response.status_code != 413


# --- over a real server: Django's ASGI handler would spool any body to disk before middleware runs ----
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_over_a_real_server_declared_and_streamed_oversized_bodies_get_413(asgi_server, small_limit):
    user = player()
    headers = {**bearer(user), "Content-Type": "application/json"}

    def chunks(total: int, size: int = 1024):
        for _ in range(total // size):
            yield b" " * size

    with httpx.Client(base_url=asgi_server.url, timeout=30) as http:
        declared = http.post(ASK, content=_big_question(), headers=headers)
        # no Content-Length: chunked transfer, 2 MB of it
        streamed = http.post(ASK, content=chunks(2 * 1024 * 1024), headers=headers)
        # a small chunked body passes the limit (Django then reads a body without Content-Length as empty)
        small = http.post(ASK, content=iter([b'{"game": "nope", ', b'"question": "hi"}']), headers=headers)

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert is_error_shape(response.json(), "request_too_large")
    assert small.status_code == 400 and is_error_shape(small.json(), "validation_error")
    assert not CallRecord.objects.filter(user=user, released_at__isnull=True).exists()
