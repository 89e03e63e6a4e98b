"""The LLM failing in every documented way, through POST /api/coach/ask: a clean 503/504, the call back, a clear log.

tests/coach covers the retry rules on the LLM service itself and one 500 storm through the endpoint;
here each fault goes through the whole stack (quota middleware, pipeline, log) in JSON and in SSE mode.
"""

import itertools
import json

import httpx
import pytest

from billing.models import CallRecord, UsageCounter
from coach.models import QuestionLog
from dev.demo.loader import demo_load
from tests.conftest import bearer_client
from tests.reliability.conftest import ASK, bearer, is_error_shape, player, wait_until
from tests.servers.openai_server import (
    EMBEDDINGS_PATH,
    DropMidStream,
    Hang,
    Malformed,
    QuotaExhausted,
    RateLimited,
    Reply,
    ServerError,
)

QUESTION = "How do I dodge Malenia's Waterfowl Dance?"


def _used(user) -> int:
    row = UsageCounter.objects.filter(user=user, period="week").first()
    return row.used if row else 0


def _gaps(requests) -> list[float]:
    return [later.received_at - earlier.received_at for earlier, later in itertools.pairwise(requests)]


FAULTS = {
    # name: (behaviours queued, status, code, attempts, waits between attempts, cause in the log)
    "429 with Retry-After": ([RateLimited(retry_after_ms=150)] * 4, 503, "ai_unavailable", 4, [0.15] * 3, "429"),
    "5xx storm": ([ServerError(502), ServerError(503), ServerError(500), ServerError(500)], 503, "ai_unavailable",
                  4, [0.05, 0.1, 0.2], "500"),
    "hang past the timeout": ([Hang(10)] * 4, 504, "ai_timeout", 4, [0.05, 0.1, 0.2], "APITimeoutError"),
    "connection dropped mid-body": ([DropMidStream()] * 4, 503, "ai_unavailable", 4, [0.05, 0.1, 0.2],
                                    "APIConnectionError"),
    "malformed JSON": ([Malformed()], 503, "ai_bad_response", 1, [], "JSON"),
    "account out of credit": ([QuotaExhausted()], 503, "ai_quota_exhausted", 1, [], "insufficient_quota"),
}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_each_llm_fault_is_a_clean_error_the_call_comes_back_and_the_log_says_why(fault, openai_server, settings):
    # given a player, the demo knowledge embedded by the provider, and the LLM about to fail so
    behaviours, status, code, attempts, waits, cause = FAULTS[fault]
    settings.LLM_BACKOFF_SECONDS = 0.05
    settings.OPENAI_TIMEOUT_SECONDS = 0.3
    demo_load()
    user = player()
    client = bearer_client(user)
    openai_server.enqueue(*behaviours)

    # when the player asks
    response = client.post(ASK, {"game": "elden-ring", "question": QUESTION}, format="json")

    # then a clean error in the common shape, never a 500 or a partial answer
    assert response.status_code == status, response.content
    assert is_error_shape(response.json(), code)
    assert "answer" not in response.json()
    # the retry schedule held: the attempts and the waits between them
    calls = openai_server.chat_requests()
    assert len(calls) == attempts
    for gap, wait in zip(_gaps(calls), waits, strict=True):
        assert wait * 0.9 <= gap < wait + 1.5, (_gaps(calls), waits)
    if fault == "429 with Retry-After":
        assert response["Retry-After"] == "1"  # the provider's 150 ms, rounded up to whole seconds
    # the call came back
    assert response["X-Plan-Remaining"] == "30"
    assert _used(user) == 0
    assert CallRecord.objects.get(user=user).released_at is not None
    # and the one log row says what happened
    log = QuestionLog.objects.get(user=user)
    assert log.error_code == code and log.answer == ""
    assert cause in log.error, log.error
    assert f"{attempts} attempt" in log.error, log.error


@pytest.mark.django_db
@pytest.mark.parametrize(("failure", "status", "code", "cause"),
                         [(ServerError(500), 503, "ai_unavailable", "InternalServerError 500"),
                          (Hang(10), 504, "ai_timeout", "APITimeoutError")])  # fmt: skip
def test_the_embedding_provider_failing_at_ask_time_is_a_clean_error_too(openai_server, settings, failure, status,
                                                                         code, cause):  # fmt: skip
    # The question is embedded (semantic cache, retrieval) before the LLM is asked.
    settings.EMBEDDING_MAX_RETRIES = 0
    settings.EMBEDDING_TIMEOUT_SECONDS = 0.3
    demo_load()
    user = player()
    client = bearer_client(user)
    openai_server.enqueue(failure, path=EMBEDDINGS_PATH)

    response = client.post(ASK, {"game": "elden-ring", "question": QUESTION}, format="json")

    assert response.status_code == status, response.content
    assert is_error_shape(response.json(), code)
    assert response["X-Plan-Remaining"] == "30" and _used(user) == 0
    assert openai_server.chat_requests() == []
    log = QuestionLog.objects.get(user=user)
    assert log.error_code == code and cause in log.error, log.error


@pytest.mark.django_db
def test_a_429_then_a_500_then_an_answer_costs_exactly_one_call(openai_server):
    demo_load()
    user = player()
    client = bearer_client(user)
    openai_server.enqueue(RateLimited(retry_after_ms=50), ServerError(), Reply())

    response = client.post(ASK, {"game": "elden-ring", "question": QUESTION}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["answer"] == openai_server.answer
    assert response["X-Plan-Remaining"] == "29" and _used(user) == 1
    assert len(openai_server.chat_requests()) == 3
    log = QuestionLog.objects.get(user=user)
    assert log.error_code == "" and log.answer == openai_server.answer


# --- streaming over a real server ----------------------------------------------------------------
def _sse(response) -> list[tuple[str, dict]]:
    events, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


STREAM_FAULTS = {
    # after the first words: the stream ends with an error event
    "dropped mid-stream": (DropMidStream(after_chunks=3), 200, "ai_stream_interrupted"),
    "malformed chunk mid-stream": (Malformed(), 200, "ai_bad_response"),
    # before the first word: a plain JSON error
    "hang before the first word": (Hang(10), 504, "ai_timeout"),
    "429 before the first word": (RateLimited(retry_after_ms=50), 503, "ai_unavailable"),
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", STREAM_FAULTS, ids=list(STREAM_FAULTS))
def test_streamed_answers_fail_cleanly_and_give_the_call_back(fault, asgi_server, openai_server, settings):
    behaviour, status, code = STREAM_FAULTS[fault]
    settings.OPENAI_TIMEOUT_SECONDS = 0.3
    settings.LLM_BACKOFF_SECONDS = 0.01
    demo_load()
    user = player()
    # a fault before the first word is retried like any call; mid-stream, the words already sent stand
    openai_server.enqueue(*([behaviour] * (4 if status != 200 else 1)))
    headers = {**bearer(user), "Accept": "text/event-stream"}

    with httpx.stream("POST", f"{asgi_server.url}{ASK}", headers=headers, timeout=30,
                      json={"game": "elden-ring", "question": QUESTION}) as response:  # fmt: skip
        assert response.status_code == status
        if status == 200:
            events = _sse(response)
        else:
            response.read()
            assert is_error_shape(response.json(), code)

    if status == 200:
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "delta" and kinds[-1] == "error" and "done" not in kinds
        assert is_error_shape(events[-1][1], code)
    log = wait_until(lambda: QuestionLog.objects.filter(user=user).first(), timeout=10)
    assert log.error_code == code
    assert _used(user) == 0
