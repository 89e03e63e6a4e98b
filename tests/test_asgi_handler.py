"""config.handlers.PooledThreadsASGIHandler: a request's sync work runs on a thread kept from an
earlier request, and never on one another request is using.

The handler is driven here as uvicorn drives it (scope, receive, send), on this module's two views.
"""

import asyncio
import threading

import pytest
from django.http import HttpResponse
from django.urls import path

from config.handlers import PooledThreadsASGIHandler

release = threading.Event()
blocked = threading.Event()


def whoami(request):
    return HttpResponse(threading.current_thread().name)


def stuck(request):
    inside.append(threading.current_thread().name)
    blocked.set()
    release.wait(10)
    return HttpResponse(threading.current_thread().name)


inside: list[str] = []  # the threads that entered `stuck`
urlpatterns = [path("whoami", whoami), path("stuck", stuck)]


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    release.clear()
    blocked.clear()
    inside.clear()
    handler = PooledThreadsASGIHandler()
    yield handler
    release.set()
    for executor in handler.idle:
        executor.shutdown()


def _scope(path_: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path_, "raw_path": path_.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip


async def _get(handler, path_: str, *, disconnect: asyncio.Event | None = None) -> tuple[int, bytes]:
    """One request; with `disconnect`, the client goes away when it is set."""
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await (disconnect.wait() if disconnect else asyncio.Event().wait())
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await handler(_scope(path_), receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 0)
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _wait_until(condition, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_requests_one_after_another_run_on_the_same_kept_thread(handler):
    async def scenario():
        first = await _get(handler, "/whoami")
        await _wait_until(lambda: len(handler.idle) == 1)  # back in the pool once its thread is free
        threads_before = threading.active_count()
        second = await _get(handler, "/whoami")
        await _wait_until(lambda: len(handler.idle) == 1)
        return first, second, threads_before

    first, second, threads_before = asyncio.run(scenario())

    assert first[0] == second[0] == 200
    assert first[1] == second[1] and first[1].startswith(b"request")
    assert threading.active_count() == threads_before  # no thread started (or joined) for the second


def test_a_request_never_waits_for_a_thread_another_request_is_using(handler):
    async def scenario():
        await _get(handler, "/whoami")
        await _wait_until(lambda: len(handler.idle) == 1)
        slow = asyncio.create_task(_get(handler, "/stuck"))  # takes the kept thread, and holds it
        await _wait_until(blocked.is_set)
        quick = await asyncio.wait_for(_get(handler, "/whoami"), 5)  # answered at once, on a new thread
        release.set()
        return await asyncio.wait_for(slow, 5), quick

    slow, quick = asyncio.run(scenario())

    assert slow[0] == quick[0] == 200
    assert slow[1] != quick[1]
    assert len(handler.idle) == 2  # both threads are kept for the next requests


def _request_threads() -> int:
    return len([thread for thread in threading.enumerate() if thread.name.startswith("request-")])


def test_threads_beyond_the_idle_limit_are_shut_down(handler, monkeypatch):
    monkeypatch.setattr("config.handlers.IDLE_THREADS_MAX", 1)
    before = _request_threads()

    async def scenario():
        responses = await asyncio.gather(*(_get(handler, "/stuck") for _ in range(3)), _release_when_all_in(3))
        await _wait_until(lambda: _request_threads() == before + 1)  # the others exit
        return responses[:3]

    responses = asyncio.run(scenario())

    assert [status for status, _ in responses] == [200] * 3
    assert len({body for _, body in responses}) == 3  # three requests at once: three threads
    assert len(handler.idle) == 1


async def _release_when_all_in(count: int) -> None:
    await _wait_until(lambda: len(inside) >= count)  # each request is in its own thread, blocked
    release.set()


def test_lifespan_shutdown_completes_when_an_app_fails_to_close(handler, monkeypatch, caplog):
    """uvicorn waits for lifespan.shutdown.complete: one app's failure to close is logged, not a hang."""
    from coach.apps import CoachConfig

    async def broken(self):
        raise RuntimeError("session already gone")

    monkeypatch.setattr(CoachConfig, "aclose", broken)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(handler({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert "coach: closing at shutdown failed" in caplog.text
