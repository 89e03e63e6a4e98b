"""A rate limit's Redis timing out on the event loop: a Redis that hangs is skipped, a loop that was busy is not.

asyncio times a call out in loop time, so a loop blocked past THROTTLE_REDIS_TIMEOUT_SECONDS makes a
healthy Redis look slow; skipping it then would make the shared limits per-process ones under load.
A PING from a worker thread tells the two apart (config.redis_probe), as for the coach's caches.
"""

import asyncio
import time

import redis

from config import redis_probe, throttles
from tests.conftest import wait_for_probe

KEY = "test:timeouts"
WINDOWS = [(KEY, 3, 60)]  # 3 requests a minute


def test_a_redis_that_hangs_is_skipped_after_one_timeout_and_its_ping_and_the_limit_holds(hung_redis, settings):
    settings.THROTTLE_REDIS_URL, settings.THROTTLE_REDIS_TIMEOUT_SECONDS = hung_redis, 0.2

    first = asyncio.run(throttles.athrottle_hits(WINDOWS))  # timed out: counted in memory
    wait_for_throttle_probe(hung_redis)
    started = time.monotonic()
    then = [asyncio.run(throttles.athrottle_hits(WINDOWS)) for _ in range(3)]

    assert not throttles._redis_up(hung_redis)
    assert time.monotonic() - started < 0.1  # skipped: no more waiting for the timeout
    assert [first, *then][:3] == [0, 0, 0] and then[-1] > 0  # the fourth request is over the limit


def test_a_timeout_on_the_loop_against_a_redis_that_answers_keeps_the_limits_in_redis():
    # A loop busy past the timeout cannot be staged on cue (the reply wins the race in a test), so the
    # timeout is handed over as redis-py raises it, on a loop, with Valkey up.
    url = throttles._redis_url()
    client, _ = throttles._client()
    client.delete(f"throttle:{KEY}")

    async def timed_out_on_the_loop():
        throttles._redis_failed(url, redis.TimeoutError("Timeout reading from 127.0.0.1"))

    asyncio.run(timed_out_on_the_loop())
    wait_for_throttle_probe(url)
    asyncio.run(throttles.athrottle_hits(WINDOWS))

    assert throttles._redis_up(url)
    assert client.zcard(f"throttle:{KEY}") == 1  # counted in Redis, shared by every process, not in this one's memory


def test_a_timeout_in_a_worker_thread_is_an_outage_at_once(hung_redis, settings):
    # off the loop a timeout is the kernel's: the server did not answer in time
    settings.THROTTLE_REDIS_URL, settings.THROTTLE_REDIS_TIMEOUT_SECONDS = hung_redis, 0.2

    assert throttles.throttle_hits(WINDOWS) == 0

    assert not throttles._redis_up(hung_redis)
    assert not redis_probe.probing(throttles.probe_name(hung_redis))  # no PING needed


def wait_for_throttle_probe(url: str) -> None:
    wait_for_probe(throttles.probe_name(url))
