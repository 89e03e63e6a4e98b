"""config.handlers.ThreadKeepingASGIHandler: a request's sync work runs on a thread of its own, kept for the next."""

import asyncio
import threading

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connection

from config.handlers import ThreadKeepingASGIHandler


class _Recording(ThreadKeepingASGIHandler):
    """handle() replaced: each request records the thread its sync work ran on, and can touch the database."""

    def __init__(self, *, query: bool = False, pause: float = 0.0):
        super().__init__()
        self.threads: list[int] = []
        self.query, self.pause = query, pause

    async def handle(self, scope, receive, send):
        def work():
            if self.query:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            return threading.get_ident()

        await asyncio.sleep(self.pause)
        self.threads.append(await sync_to_async(work)())
        await sync_to_async(lambda: connection.close())()  # Django does this on request_finished


def _request(handler):
    return handler({"type": "http"}, None, None)


def _serve(main):
    """Run main() on an event loop of its own thread, as uvicorn does (the test's thread holds a connection
    of its own, which asgiref would otherwise share with the loop's sync calls)."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", asyncio.run(main())))
    thread.start()
    thread.join(30)
    return result.get("value")


def test_requests_one_after_another_reuse_one_thread():
    handler = _Recording()

    async def main():
        for _ in range(3):
            await _request(handler)

    _serve(main)
    assert len(set(handler.threads)) == 1
    assert threading.get_ident() not in handler.threads


def test_requests_at_the_same_time_each_get_their_own_thread():
    handler = _Recording(pause=0.05)

    async def main():
        await asyncio.gather(*(_request(handler) for _ in range(4)))

    _serve(main)
    assert len(set(handler.threads)) == 4
    assert len(handler._idle) == 4  # all kept for the next requests


def test_beyond_threads_kept_the_surplus_threads_end(monkeypatch):
    handler = _Recording(pause=0.05)
    monkeypatch.setattr(handler, "threads_kept", 2)

    async def main():
        await asyncio.gather(*(_request(handler) for _ in range(5)))

    _serve(main)
    assert len(handler._idle) == 2


@pytest.mark.django_db(transaction=True)
def test_a_kept_thread_holds_no_database_connection_between_requests():
    # a real request through Django (/readyz reads the database) on the handler's thread
    handler = ThreadKeepingASGIHandler()
    sent, bodies = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # no disconnect: Django stops listening when it has answered

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/readyz", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 5000),
             "server": ("localhost", 80)}  # fmt: skip

    async def main():
        await handler(scope, receive, send)
        (executor,) = handler._idle
        async with ThreadSensitiveContext(executor=executor):  # the next request on that thread
            return await sync_to_async(lambda: connection.connection is None)()

    assert _serve(main) is True
    assert sent[0]["status"] == 200


def test_only_http_is_served():
    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(ThreadKeepingASGIHandler()({"type": "websocket"}, None, None))
