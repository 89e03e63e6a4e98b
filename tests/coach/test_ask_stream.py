"""Streaming asks over a real ASGI server: deltas then the metadata, and a hang-up stops the LLM call."""

import gc
import json
import time

import aiohttp
import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from billing.models import UsageCounter
from coach.models import QuestionLog
from coach.services.llm import call as llm_call
from dev.demo.loader import demo_load
from tests.factories import UserFactory
from tests.servers.asgi import AsgiServer
from tests.servers.openai_server import OpenAIServer, Reply

pytestmark = pytest.mark.django_db(transaction=True)
MALENIA = "말레니아 2페이즈 어떻게 피해요?"


def _headers(user) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}", "Accept": "text/event-stream"}


def _events(lines) -> list[tuple[str, dict]]:
    events, kind = [], None
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


def test_the_answer_streams_as_deltas_then_one_done_event_with_the_metadata(asgi_server):
    demo_load()
    user = UserFactory()

    with httpx.stream("POST", f"{asgi_server.url}/api/coach/ask", headers=_headers(user),
                      json={"game": "elden-ring", "question": MALENIA}, timeout=30) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-plan-remaining"] == "29"
        events = _events(response.iter_lines())

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"} and len(kinds) > 2
    text = "".join(data["text"] for kind, data in events[:-1])
    done = events[-1][1]
    assert done["answer"] == text and done["sources"]
    assert QuestionLog.objects.get(id=done["id"]).answer == text
    assert UsageCounter.objects.get(user=user, period="week").used == 1


def test_errors_before_the_first_word_are_plain_json(asgi_server):
    demo_load()
    user = UserFactory()

    response = httpx.post(f"{asgi_server.url}/api/coach/ask", headers=_headers(user),
                          json={"game": "nope", "question": "hi"}, timeout=30)  # fmt: skip

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_game"


def test_a_player_who_hangs_up_stops_the_llm_call_and_gets_the_call_back(asgi_server, settings):
    with OpenAIServer() as server:
        settings.OPENAI_API_KEY = "sk-test-key"
        settings.OPENAI_BASE_URL = server.base_url
        demo_load()
        user = UserFactory()
        server.enqueue(Reply(text="word " * 300, chunk_delay=0.05))

        body = {"game": "elden-ring", "question": "How do I beat Malenia?"}
        url = f"{asgi_server.url}/api/coach/ask"
        with httpx.stream("POST", url, headers=_headers(user), json=body, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event: delta"):
                    break  # the player closes the app after the first words

        request = server.chat_requests()[-1]
        assert request.disconnected.wait(10), "the LLM call went on after the player left"
    llm_call._retired.clear()
    deadline = time.monotonic() + 10
    while not QuestionLog.objects.filter(user=user).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = QuestionLog.objects.get(user=user)
    assert log.error_code == "interrupted"
    assert UsageCounter.objects.get(user=user, period="week").used == 0


def _sessions() -> list[aiohttp.ClientSession]:
    return [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession)]


def test_a_worker_shutting_down_closes_its_sessions_to_openai(transactional_db, settings):
    """uvicorn's lifespan shutdown reaches the apps (config.handlers): the SDK's aiohttp sessions the
    worker's asks opened are closed, not left for the garbage collector to report as unclosed (an
    error line, or a traceback at exit, from every worker that stops)."""
    with OpenAIServer() as openai_server:
        settings.OPENAI_API_KEY = "sk-test-key"
        settings.OPENAI_BASE_URL = openai_server.base_url
        demo_load()
        earlier = _sessions()  # held, so that no new session can take an old one's id
        server = AsgiServer().__enter__()
        try:
            response = httpx.post(f"{server.url}/api/coach/ask", headers=_headers(UserFactory()) | {"Accept": "*/*"},
                                  json={"game": "elden-ring", "question": MALENIA}, timeout=30)  # fmt: skip
            assert response.status_code == 200 and response.json()["cache"] == "none"
            known = {id(session) for session in earlier}
            opened = [session for session in _sessions() if id(session) not in known]
            assert len(opened) == 2 and not any(session.closed for session in opened)  # the embedding's, the answer's
        finally:
            server.__exit__(None, None, None)

        assert all(session.closed for session in opened)
    llm_call._retired.clear()
