"""JSON logs: one object per line with the request id (the client's, if safe) and user id; no secrets."""

import logging
import re

import pytest
from django.http import JsonResponse

from config.observability import log_fields_add, request_id_get
from config.observability.middleware import ObservabilityMiddleware

pytestmark = pytest.mark.django_db
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjo0MiwiZXhwIjoxOTAwMDAwMDAwfQ"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
OPENAI_KEY = "sk-proj-AbCdEf0123456789xyzXYZ"


def test_the_clients_request_id_comes_back_and_is_on_the_access_line(staff_client, staff_user, log_lines):
    response = staff_client.get("/api/admin/stats", HTTP_X_REQUEST_ID="app-4f1c.retry-2")

    assert response["X-Request-ID"] == "app-4f1c.retry-2"
    [line] = [line for line in log_lines() if line["message"] == "request"]
    assert line["request_id"] == "app-4f1c.retry-2"
    assert line["user_id"] == staff_user.pk
    assert (line["path"], line["route"], line["status"], line["method"]) == (
        "/api/admin/stats",
        "/api/admin/stats",
        200,
        "GET",
    )
    assert line["level"] == "info" and line["logger"] == "gamecoach.request"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["time"])


@pytest.mark.parametrize("unsafe", ["has spaces", "x" * 65, "new\nline", "<script>", ""])
def test_an_unsafe_request_id_is_replaced_by_a_new_one(api_client, unsafe):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID=unsafe)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_without_a_request_id_each_request_gets_its_own(api_client):
    first = api_client.get("/healthz")["X-Request-ID"]
    second = api_client.get("/healthz")["X-Request-ID"]

    assert first != second


def test_lines_logged_while_a_request_is_served_carry_its_id(api_client, log_lines):
    # Django itself logs "Not Found" for a 404 after the view ran
    api_client.get("/no/such/page", HTTP_X_REQUEST_ID="trace-404")

    lines = log_lines()
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert not_found and all(line["request_id"] == "trace-404" for line in not_found)
    assert [line["route"] for line in lines if line["message"] == "request"] == ["<unmatched>"]


def test_anonymous_requests_log_no_user(api_client, log_lines):
    api_client.get("/api/admin/stats")

    [line] = [line for line in log_lines() if line["message"] == "request"]
    assert line["user_id"] is None and line["status"] == 401


def test_secrets_never_reach_a_log_line(log_lines):
    logger = logging.getLogger("gamecoach.test")

    logger.info("calling upstream with Authorization: Bearer %s and key %s", JWT, OPENAI_KEY)
    logger.warning("header dump", extra={"headers": {"Authorization": f"Bearer {JWT}", "Accept": "json"}})
    logger.info("config", extra={"api_key": "plain-looking-value", "prompt_tokens": 1200, "note": f"jwt={JWT}"})
    logger.info("revenuecat key sk_live_AbC123xyz789 and webhook authorization=Basic c2VjcmV0")
    try:
        raise RuntimeError(f"upstream said 401 for {OPENAI_KEY}")
    except RuntimeError:
        logger.exception("failed")

    raw = log_lines.raw()
    for secret in (JWT, OPENAI_KEY, "plain-looking-value", "sk_live_AbC123xyz789", "c2VjcmV0", JWT.split(".")[1]):
        assert secret not in raw
    lines = log_lines()
    assert lines[1]["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
    assert lines[2]["prompt_tokens"] == 1200  # a count of tokens is not a token
    assert "RuntimeError" in lines[4]["exception"]


def test_a_bearer_token_sent_to_the_api_is_not_logged(api_client, log_lines):
    api_client.get("/api/admin/stats", HTTP_AUTHORIZATION=f"Bearer {JWT}")

    assert JWT.split(".")[1] not in log_lines.raw()
    assert any(line["status"] == 401 for line in log_lines() if line["message"] == "request")


def test_code_can_read_the_request_id_and_add_fields_to_the_access_line(rf, log_lines):
    # given a view that, like the ask view, reads the request id and reports its stage timings
    seen = {}

    def view(request):
        seen["request_id"] = request_id_get()
        log_fields_add(stage_ms={"retrieve": 41, "llm": 900}, cache="none")
        return JsonResponse({})

    # when a request passes the middleware
    response = ObservabilityMiddleware(view)(rf.get("/api/coach/ask", HTTP_X_REQUEST_ID="ask-1"))
    response.close()

    # then the view saw the id and the access line has its fields
    assert seen["request_id"] == "ask-1"
    [line] = [line for line in log_lines() if line["message"] == "request"]
    assert (line["request_id"], line["stage_ms"], line["cache"]) == ("ask-1", {"retrieve": 41, "llm": 900}, "none")
    assert request_id_get() is None  # cleared once the response is closed


def test_the_async_stack_returns_the_request_id_too(db):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    response = async_to_sync(AsyncClient().get)("/healthz", headers={"X-Request-ID": "async-1"})

    assert response.status_code == 200
    assert response["X-Request-ID"] == "async-1"


def test_the_text_format_for_a_terminal_has_the_same_fields_and_redacts():
    from config.observability.logs import RedactingFilter, RequestContextFilter, TextFormatter

    record = logging.LogRecord("coach.ask", logging.INFO, __file__, 1, "answered with key %s", (OPENAI_KEY,), None)
    record.stage_ms = {"llm": 900}
    for log_filter in (RequestContextFilter(), RedactingFilter()):
        log_filter.filter(record)

    line = TextFormatter().format(record)

    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO    coach\.ask \[-\] answered with key \[REDACTED\]", line)
    assert "stage_ms={'llm': 900}" in line and OPENAI_KEY not in line


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_one_log_line_and_a_streamed_one_gets_its_own_when_it_ends(asgi_server, user, log_lines):
    import httpx
    from rest_framework_simplejwt.tokens import RefreshToken

    from dev.demo.loader import demo_load

    demo_load()
    url = f"{asgi_server.url}/api/coach/ask"
    headers = {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}
    question = {"game": "elden-ring", "question": "말레니아 2페이즈 어떻게 피해요?"}

    answered = httpx.post(url, json=question, headers=headers, timeout=30).json()
    json_lines = [line for line in log_lines() if line.get("ask_id")]
    with httpx.stream("POST", url, json={**question, "question": "How to dodge Waterfowl Dance?"},
                      headers={**headers, "Accept": "text/event-stream"}, timeout=30) as streamed:  # fmt: skip
        streamed.read()
    stream_lines = [line for line in log_lines() if line.get("ask_id")][len(json_lines) :]

    [request_line] = json_lines  # the request's own line carries the ask's facts
    assert (request_line["message"], request_line["ask_id"], request_line["status"]) == ("request", answered["id"], 200)
    assert {"embed", "retrieve", "llm", "total"} <= set(request_line["stage_ms"])
    # streamed: the request line is written at the first byte, the ask's own line when the answer ends
    assert [line["message"] for line in stream_lines] == ["ask answered"]
    assert [line.get("streaming") for line in log_lines() if line["message"] == "request"] == [None, True]
