"""A cache timeout on the event loop: a Redis that hangs is skipped, a loop that was busy is not.

asyncio times a call out in loop time, so a loop blocked past COACH_CACHE_TIMEOUT_SECONDS makes a
healthy Redis look slow. A PING from a worker thread tells the two apart (coach.services.cache.clients).
"""

import asyncio
import socket
import threading
import time

import pytest
import redis
from django.test import override_settings

from coach.services.cache import aexact_cache_get, clients, exact_cache_set

PAYLOAD = {"answer": "Roll into the first flurry, then away.", "sources": [], "model": "gpt-4o-mini"}


@pytest.fixture
def hung_redis():
    """A TCP server that accepts connections and never answers, as a stopped (SIGSTOP) Redis does."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def _wait_for_the_probe(url: str) -> None:
    deadline = time.monotonic() + 5
    while url in clients._probing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert url not in clients._probing


def test_a_redis_that_hangs_is_skipped_after_one_timeout_and_its_ping(hung_redis):
    with override_settings(COACH_CACHE_REDIS_URL=hung_redis, COACH_CACHE_TIMEOUT_SECONDS=0.2):
        assert asyncio.run(aexact_cache_get(user_id=1, game="lol", question="q")) is None  # timed out
        _wait_for_the_probe(hung_redis)

        assert clients.redis_skipped()
        started = time.monotonic()
        assert asyncio.run(aexact_cache_get(user_id=1, game="lol", question="q")) is None
        assert time.monotonic() - started < 0.1  # skipped: no second wait for the timeout
    clients._down_until.pop(hung_redis, None)


def test_a_timeout_on_the_loop_against_a_redis_that_answers_keeps_the_caches_on():
    # A loop busy past the timeout cannot be staged on cue (the reply wins the race in a test), so the
    # timeout is handed to the cache as redis-py raises it, on a loop, with Valkey up: as in the
    # benchmark, where one under load had switched both caches off for COACH_CACHE_RETRY_SECONDS.
    exact_cache_set(user_id=1, game="lol", question="Yasuo into Yone?", payload=PAYLOAD)
    url = clients.cache_redis_url()
    clients._down_until.pop(url, None)

    async def timed_out_on_the_loop():
        clients.redis_failed("semantic lookup", redis.TimeoutError("Timeout reading from 127.0.0.1"))

    asyncio.run(timed_out_on_the_loop())
    _wait_for_the_probe(url)

    assert not clients.redis_skipped()
    assert asyncio.run(aexact_cache_get(user_id=1, game="lol", question="Yasuo into Yone?")) == PAYLOAD


def test_a_timeout_in_a_worker_thread_is_an_outage_at_once(hung_redis):
    # off the loop a timeout is the kernel's: the server did not answer in time
    with override_settings(COACH_CACHE_REDIS_URL=hung_redis, COACH_CACHE_TIMEOUT_SECONDS=0.2):
        assert exact_cache_set(user_id=1, game="lol", question="q", payload=PAYLOAD) is False
        assert clients.redis_skipped()
        assert hung_redis not in clients._probing
    clients._down_until.pop(hung_redis, None)
