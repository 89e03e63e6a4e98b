"""200 players asking at once against a real uvicorn process and an LLM that takes 1 s per answer.

Zero errors, every quota exact to the call, one log row per ask, no feedback lost, and the server's
memory flat. CI runs RELIABILITY_LOAD_SECONDS=15 (still 200 concurrent players); the full run:

    RELIABILITY_LOAD_SECONDS=60 .venv/bin/python -m pytest tests/reliability/test_load.py -q -s
"""

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import httpx
import psutil
import pytest
from django.conf import settings as django_settings
from django.db import connection

from billing.models import CallRecord, Subscription, UsageCounter
from coach.models import Feedback, QuestionLog
from dev.demo.loader import demo_load
from dev.embedded import free_port
from tests.factories import UserFactory
from tests.reliability.conftest import ASK, bearer
from tests.servers.openai_server import OpenAIServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PLAYERS = int(os.environ.get("RELIABILITY_LOAD_PLAYERS", "200"))
SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "15"))
LLM_SECONDS = 1.0
OPENAI_KEY = "sk-test-reliability-load"
QUESTIONS = [
    "Rune level {n}: how do I dodge Malenia's Waterfowl Dance in phase 2?",
    "룬 레벨 {n}인데 말레니아 2페이즈 물새 난무 어떻게 피해요?",
    "What should I do at the Radahn festival with {n} vigor?",
    "라다안 축제 보스 체력 {n} 일 때 공략 알려줘",
]


class UvicornProcess:
    """`uvicorn config.asgi:application` as its own process on the test database, broker and LLM."""

    def __init__(self, env: dict, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log", "--timeout-keep-alive", "30"],
            cwd=django_settings.BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.1)

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture
def server(tmp_path, settings):
    with OpenAIServer(delay=LLM_SECONDS, api_key=OPENAI_KEY) as llm:
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = OPENAI_KEY, llm.base_url
        demo_load()  # embedded by the provider the server will embed questions with
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.reliability.process_settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": llm.base_url,
            # Each synthetic player asks back to back, faster than a person types: the per-player
            # question rate (60/min by default) would refuse them, which tests/reliability/test_rate_limits covers.
            "THROTTLE_ASK_RATE": "100000/min",
            "THROTTLE_USER_RATE": "100000/min",
            "THROTTLE_IP_RATE": "1000000/min",
        }
        uvicorn = UvicornProcess(env, tmp_path / "uvicorn.log")
        uvicorn.llm = llm
        uvicorn.log_path = tmp_path / "uvicorn.log"
        try:
            yield uvicorn
        finally:
            uvicorn.stop()


async def _player(http, index: int, token: str, deadline: float, results: list, feedback: list) -> None:
    n = 0
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        question = QUESTIONS[(index + n) % len(QUESTIONS)].format(n=index * 1000 + n)
        started = time.monotonic()
        try:
            response = await http.post(ASK, json={"game": "elden-ring", "question": question}, headers=headers)
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            results.append((index, response.status_code, body.get("id"), body.get("cache"),
                            time.monotonic() - started, None))  # fmt: skip
        except Exception as exc:  # counted as an error, never hidden
            results.append((index, None, None, None, time.monotonic() - started, repr(exc)))
            body = {}
        n += 1
        if body.get("id") and n % 3 == 0:  # every third answer is rated, alternately up and down
            rating = "up" if n % 2 else "down"
            try:
                rated = await http.post(f"/api/coach/answers/{body['id']}/feedback", json={"rating": rating},
                                        headers=headers)  # fmt: skip
                feedback.append((body["id"], rating, rated.status_code, None))
            except Exception as exc:
                feedback.append((body["id"], rating, None, repr(exc)))


async def _run(url: str, tokens: list[str], seconds: float) -> tuple[list, list]:
    results, feedback = [], []
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_player(http, i, t, deadline, results, feedback) for i, t in enumerate(tokens)))
    return results, feedback


def test_200_players_asking_at_once_get_every_answer_with_exact_quotas_and_flat_memory(server):
    # given 200 players on the basic plan (200 calls a week) and a server that has answered once
    players = [UserFactory() for _ in range(PLAYERS)]
    Subscription.objects.bulk_create([Subscription(user=user, plan="basic") for user in players])
    tokens = [bearer(user)["Authorization"].removeprefix("Bearer ") for user in players]
    warm = httpx.post(f"{server.url}{ASK}", json={"game": "elden-ring", "question": "Warm-up: Malenia?"},
                      headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=60)  # fmt: skip
    assert warm.status_code == 200, warm.text

    # when they all ask, back to back, for the whole run, while the server's memory is sampled
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample():
        start = time.monotonic()
        while not done.wait(0.5):
            samples.append((time.monotonic() - start, server.rss_mb()))

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    results, feedback = asyncio.run(_run(server.url, tokens, SECONDS))
    elapsed = time.monotonic() - started
    done.set()
    sampler.join()

    # then nothing failed
    errors = [r for r in results if r[1] != 200]
    assert not errors, Counter((r[1], r[5]) for r in errors).most_common(5)
    assert not [f for f in feedback if f[2] != 200]
    asks = len(results)
    latencies = sorted(r[4] for r in results)
    print(f"\nload: {PLAYERS} players, {elapsed:.1f} s, {asks} answers ({asks / elapsed:.1f}/s), "
          f"latency p50 {statistics.median(latencies):.2f} s p95 {latencies[int(0.95 * (asks - 1))]:.2f} s, "
          f"peak LLM calls in flight {server.llm.peak_in_flight}, feedback {len(feedback)}")  # fmt: skip
    # a real concurrent run: far more answers than one-at-a-time could give, many LLM calls overlapping
    assert asks >= 10 * elapsed / LLM_SECONDS
    assert server.llm.peak_in_flight >= 30

    # every quota exact to the call: the calls counted are the answers given (no cache could answer them)
    answered = Counter(r[0] for r in results if r[3] != "exact")
    answered[0] += 1  # the warm-up
    used = dict(UsageCounter.objects.filter(period="week").values_list("user_id", "used"))
    assert {players[i].pk: n for i, n in answered.items()} == used
    assert CallRecord.objects.filter(released_at__isnull=True).count() == sum(answered.values())
    # one log row per ask, and the answer ids the players got are those rows
    assert QuestionLog.objects.count() == asks + 1
    assert set(QuestionLog.objects.values_list("id", flat=True).exclude(question__startswith="Warm-up")) == {
        uuid.UUID(r[2]) for r in results
    }
    assert not QuestionLog.objects.exclude(error_code="").exists()
    # no feedback lost
    assert dict(Feedback.objects.values_list("answer_id", "rating")) == {
        uuid.UUID(answer_id): rating for answer_id, rating, _, _ in feedback
    }

    # and the server's memory stayed flat once warm: the last third of the run against the second
    rss = [mb for t, mb in samples]
    third = max(1, len(rss) // 3)
    middle, last = statistics.median(rss[third : 2 * third]), statistics.median(rss[-third:])
    print(f"server RSS: start {rss[0]:.0f} MB, middle {middle:.0f} MB, end {last:.0f} MB, peak {max(rss):.0f} MB")
    assert last - middle < 40, (middle, last)
