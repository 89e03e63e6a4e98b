"""A cache timeout on the event loop: a Redis that hangs is skipped, a loop that was busy is not.

asyncio times a call out in loop time, so a loop blocked past COACH_CACHE_TIMEOUT_SECONDS makes a
healthy Redis look slow. A PING from a worker thread tells the two apart (config.redis_probe).
"""

import asyncio
import time

import redis
from django.test import override_settings

from coach.services.cache import clients, exact_cache_set
from config import redis_probe
from tests.coach.conftest import exact_answer_read
from tests.conftest import wait_for_probe

PAYLOAD = {"answer": "Roll into the first flurry, then away.", "sources": [], "model": "gpt-4o-mini"}


def _wait_for_the_probe(url: str) -> None:
    wait_for_probe(clients.probe_name(url))


def test_a_redis_that_hangs_is_skipped_after_one_timeout_and_its_ping(hung_redis):
    with override_settings(COACH_CACHE_REDIS_URL=hung_redis, COACH_CACHE_TIMEOUT_SECONDS=0.2):
        assert asyncio.run(exact_answer_read(user_id=1, game="lol", question="q")) is None  # timed out
        _wait_for_the_probe(hung_redis)

        assert clients.redis_skipped()
        started = time.monotonic()
        assert asyncio.run(exact_answer_read(user_id=1, game="lol", question="q")) is None
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
    assert asyncio.run(exact_answer_read(user_id=1, game="lol", question="Yasuo into Yone?")) == PAYLOAD


def test_a_timeout_in_a_worker_thread_is_an_outage_at_once(hung_redis):
    # off the loop a timeout is the kernel's: the server did not answer in time
    with override_settings(COACH_CACHE_REDIS_URL=hung_redis, COACH_CACHE_TIMEOUT_SECONDS=0.2):
        assert exact_cache_set(user_id=1, game="lol", question="q", payload=PAYLOAD) is False
        assert clients.redis_skipped()
        assert not redis_probe.probing(clients.probe_name(hung_redis))
    clients._down_until.pop(hung_redis, None)
