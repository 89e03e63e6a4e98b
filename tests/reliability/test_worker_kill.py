"""A Celery worker SIGKILLed in the middle of a task: the task runs again and the result equals an uninterrupted run.

Two ways a worker dies: the whole worker (machine lost, OOM killer): the message was never
acknowledged (acks_late), so the broker hands it out again once the visibility timeout has passed;
and a pool child only (prefork): the parent sees the lost child and requeues the message at once
(reject_on_worker_lost). Each test uses a real worker process on the real broker and database.
"""

import io
import json
import os
import signal
import subprocess
import sys
import threading

import psutil
import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections, transaction

from billing.models import Subscription, WebhookEvent
from knowledge.models import Chunk, Document
from knowledge.services.games import game_create_or_update
from tests.billing.payloads import event
from tests.billing.states import subscribed
from tests.factories import UserFactory
from tests.reliability.conftest import wait_until
from tests.servers.openai_server import EMBEDDINGS_PATH, Hang, OpenAIServer
from tests.servers.revenuecat import RevenueCatServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WEBHOOK_AUTH = "Bearer rc-webhook-secret-reliability"
VISIBILITY_TIMEOUT = 3


class Worker:
    """`celery -A config worker` in a subprocess on the test broker and database."""

    def __init__(self, env: dict, pool: str = "solo"):
        self.env, self.pool = env, pool
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        args = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={self.pool}", "--concurrency=1",
                "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
                "-n", f"reliability-{os.getpid()}-{id(self)}@%h"]  # fmt: skip
        self.process = subprocess.Popen(args, cwd=django_settings.BASE_DIR, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def pool_child(self) -> psutil.Process:
        return wait_until(lambda: (psutil.Process(self.process.pid).children() or [None])[0], timeout=60)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for child in psutil.Process(self.process.pid).children(recursive=True):
            child.kill()
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def worker_env():
    broker = django_settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()  # no message left over from another test
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reliability.process_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }


@pytest.fixture
def workers(worker_env):
    started: list[Worker] = []

    def start(pool: str = "solo", **env) -> Worker:
        worker = Worker({**worker_env, **env}, pool).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


GUIDE = "\n\n".join(
    f"Radahn tip {n}: keep your horse Torrent moving and strike his legs after the meteor number {n} lands."
    for n in range(12)
)


def _chunk_state(document: Document) -> list[tuple]:
    return sorted(
        (c.position, c.text, c.embedding_model, c.embedding is not None, c.searchable)
        for c in Chunk.objects.filter(document=document)
    )


def test_a_worker_killed_mid_ingestion_leaves_the_task_to_run_again_with_no_duplicate_chunks(
    workers, settings, tmp_path
):
    with OpenAIServer(api_key="sk-test-reliability-ingest") as server:
        settings.OPENAI_API_KEY = "sk-test-reliability-ingest"
        settings.OPENAI_BASE_URL = server.base_url
        settings.EMBEDDING_BATCH_SIZE = 4
        settings.EMBEDDING_MAX_RETRIES = 0
        settings.CHUNK_TOKENS = 40
        settings.CHUNK_OVERLAP_TOKENS = 0
        env = {"OPENAI_API_KEY": "sk-test-reliability-ingest", "OPENAI_BASE_URL": server.base_url,
               "EMBEDDING_BATCH_SIZE": "4", "EMBEDDING_MAX_RETRIES": "0", "CHUNK_TOKENS": "40",
               "CHUNK_OVERLAP_TOKENS": "0", "EMBEDDING_TIMEOUT_SECONDS": "60"}  # fmt: skip
        game_create_or_update(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring", categories=["boss"])
        # given an uninterrupted ingestion of the guide, done here, as the reference
        reference_file = tmp_path / "reference" / "radahn.md"
        reference_file.parent.mkdir()
        reference_file.write_text("# Radahn\n\n" + GUIDE)
        call_command("ingest", str(reference_file), "--game", "elden-ring", "--category", "boss", "--sync",
                     stdout=io.StringIO())  # fmt: skip
        reference = Document.objects.get()
        server.requests.clear()

        # and a worker that takes the queued embedding batches, the second of which hangs in the provider
        server.enqueue(Hang(120), path=EMBEDDINGS_PATH)
        first = workers(**env)
        source = tmp_path / "radahn-again.md"  # the same text, another file: another document
        source.write_text("# Radahn\n\n" + GUIDE)
        call_command("ingest", str(source), "--game", "elden-ring", "--category", "boss", stdout=io.StringIO())
        document = Document.objects.exclude(pk=reference.pk).get()
        assert document.index_total > 4  # several batches

        # when the worker is killed while a batch is in the provider call
        wait_until(lambda: any(r.path == EMBEDDINGS_PATH for r in server.requests), timeout=60)
        first.kill()
        hung = len([r for r in server.requests if r.path == EMBEDDINGS_PATH])

        # then a new worker gets the unacknowledged batch again after the visibility timeout, and finishes
        workers(**env)

        def finished():
            document.refresh_from_db()
            return document.index_status == "ready"

        wait_until(finished, timeout=90, interval=0.5)
        assert len([r for r in server.requests if r.path == EMBEDDINGS_PATH]) > hung
        # the result equals the uninterrupted run: same chunks, once each, all embedded and live
        assert [row[1:] for row in _chunk_state(document)] == [row[1:] for row in _chunk_state(reference)]
        positions = [row[0] for row in _chunk_state(document)]
        assert positions == sorted(set(positions))
        assert document.index_done == document.index_total == reference.index_total


def test_a_pool_process_killed_mid_webhook_task_is_requeued_and_the_plan_changes_once(workers, settings, api_client):
    revenuecat = RevenueCatServer().start()
    try:
        settings.REVENUECAT_WEBHOOK_AUTH = WEBHOOK_AUTH
        settings.REVENUECAT_API_BASE_URL = revenuecat.url
        settings.REVENUECAT_API_KEY = revenuecat.api_key
        env = {"REVENUECAT_API_BASE_URL": revenuecat.url, "REVENUECAT_API_KEY": revenuecat.api_key,
               "REVENUECAT_HTTP_RETRIES": "0"}  # fmt: skip
        interrupted, reference = UserFactory(), UserFactory()
        for user in (interrupted, reference):
            subscribed(revenuecat, str(user.public_id))
            Subscription.objects.create(user=user)
        worker = workers(pool="prefork", **env)

        def deliver(user):
            body = json.dumps(event("INITIAL_PURCHASE", str(user.public_id)))
            response = api_client.post("/billing/revenuecat/webhook", data=body, content_type="application/json",
                                       HTTP_AUTHORIZATION=WEBHOOK_AUTH)  # fmt: skip
            assert response.status_code == 200
            return WebhookEvent.objects.get(event_id=response.json()["event_id"])

        # given the reference user's purchase processed without interruption
        done = deliver(reference)
        wait_until(lambda: WebhookEvent.objects.get(pk=done.pk).status == "processed", timeout=60)

        # and the other user's subscription row locked, so the task stops after its REST read, mid-way
        locked, release = threading.Event(), threading.Event()

        def hold_lock():
            with transaction.atomic():
                Subscription.objects.select_for_update().get(user=interrupted)
                locked.set()
                release.wait(60)
            connections.close_all()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        locked.wait(10)
        pending = deliver(interrupted)
        wait_until(lambda: revenuecat.requests.count(str(interrupted.public_id)) >= 1, timeout=30)

        # when the pool process running it is killed
        child = worker.pool_child()
        child.kill()
        child.wait(10)
        release.set()
        holder.join(10)

        # then the parent requeues the task, a new pool process runs it again, and the plan changes once
        wait_until(lambda: WebhookEvent.objects.get(pk=pending.pk).status == "processed", timeout=60)
        assert revenuecat.requests.count(str(interrupted.public_id)) == 2  # the killed run's read, and the rerun's
        after, expected = Subscription.objects.get(user=interrupted), Subscription.objects.get(user=reference)
        fields = ("plan", "store", "product_id", "entitlement_id", "will_renew", "is_sandbox")
        assert [getattr(after, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert after.plan == "basic"
        event_after = WebhookEvent.objects.get(pk=pending.pk)
        assert (event_after.attempts, event_after.error) == (1, "")
        assert Subscription.objects.filter(user=interrupted).count() == 1
    finally:
        revenuecat.stop()
