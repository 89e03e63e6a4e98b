"""Celery tasks: batched, retried with backoff, idempotent; one test runs a real worker on the real broker."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from ai.embeddings import get_embedder
from knowledge import tasks
from knowledge.models import Chunk, Document
from knowledge.search import chunk_search
from knowledge.services.documents import document_index_resume, document_update
from knowledge.services.indexing import embedding_column_dimensions
from tests.servers.openai_server import CHAT_PATH, EMBEDDINGS_PATH, QuotaExhausted, RateLimited, Reply, ServerError

pytestmark = pytest.mark.django_db


def test_task_options_ack_late_and_retry_with_backoff():
    for task in (tasks.chunks_embed, tasks.chunks_summarize):
        assert task.acks_late is True
        assert task.retry_backoff and task.retry_jitter and task.retry_backoff_max == 600
        assert task.max_retries == django_settings.KNOWLEDGE_TASK_MAX_RETRIES


def test_embedding_is_queued_in_batches(make_document, settings, celery_eager, django_capture_on_commit_callbacks,
                                        openai_embeddings):  # fmt: skip
    settings.CHUNK_TOKENS = 20
    settings.CHUNK_OVERLAP_TOKENS = 0
    settings.EMBEDDING_BATCH_SIZE = 3
    paragraphs = "\n\n".join(f"Paragraph {i} says something quite specific about the boss fight." for i in range(7))
    with django_capture_on_commit_callbacks(execute=True):
        document = make_document(content=paragraphs, sync=False)
    requests = [r for r in openai_embeddings.requests if r.path == EMBEDDINGS_PATH]
    assert [len(r.body["input"]) for r in requests] == [3, 3, 1]
    document.refresh_from_db()
    assert (document.index_status, document.index_done, document.index_total) == ("ready", 7, 7)
    assert set(Chunk.objects.values_list("embedding_model", flat=True)) == {"text-embedding-3-small"}


def test_a_failing_provider_is_retried_until_it_answers(make_document, celery_eager, openai_embeddings,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    openai_embeddings.enqueue(ServerError(), ServerError(503), ServerError(), path=EMBEDDINGS_PATH)
    with django_capture_on_commit_callbacks(execute=True):
        document = make_document(sync=False)
    assert [r.status for r in openai_embeddings.requests] == [500, 503, 500, 200]
    document.refresh_from_db()
    assert document.index_status == "ready"


def test_when_retries_run_out_the_document_says_it_failed_and_old_chunks_keep_answering(
    make_document, celery_eager, openai_embeddings, django_capture_on_commit_callbacks
):
    document = make_document(content="Old advice about Radahn.")
    openai_embeddings.enqueue(*[ServerError()] * (django_settings.KNOWLEDGE_TASK_MAX_RETRIES + 1), path=EMBEDDINGS_PATH)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        document_update(document=document, data={"content": "New advice about Radahn."})
    for callback in queued:
        callback()
    document.refresh_from_db()
    assert document.index_status == "failed"
    assert "Error code: 500" in document.index_error
    assert [c.text for c in Chunk.objects.filter(document=document, searchable=True)] == ["Old advice about Radahn."]
    # a later re-ingest or re-embed resumes the work
    with django_capture_on_commit_callbacks(execute=True):
        document_index_resume(document=document)
    assert [c.text for c in Chunk.objects.filter(document=document, searchable=True)] == ["New advice about Radahn."]


@pytest.mark.parametrize("failure", [QuotaExhausted(), "wrong key"])
def test_errors_that_waiting_cannot_fix_fail_at_once(make_document, openai_embeddings, settings, failure):
    document = make_document(sync=False)
    if failure == "wrong key":
        settings.OPENAI_API_KEY = "sk-revoked"
    else:
        openai_embeddings.enqueue(failure, path=EMBEDDINGS_PATH)
    chunk_ids = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    result = tasks.chunks_embed.apply(args=[chunk_ids])
    assert result.failed()
    assert len(openai_embeddings.requests) == 1
    document.refresh_from_db()
    assert document.index_status == "failed"


def test_running_a_task_twice_does_the_work_once(make_document, openai_embeddings):
    document = make_document(sync=False)
    chunk_ids = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    assert tasks.chunks_embed.apply(args=[chunk_ids]).get() == 1
    assert tasks.chunks_embed.apply(args=[chunk_ids]).get() == 0
    assert len([r for r in openai_embeddings.requests if r.path == EMBEDDINGS_PATH]) == 1
    assert Document.objects.get(pk=document.pk).index_status == "ready"


def test_summaries_are_a_task_too_and_then_embedded(make_document, settings, celery_eager,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    settings.CHUNK_SUMMARIZE_OVER_TOKENS = 30
    long_paragraph = " ".join(f"Detail {i} about the second phase." for i in range(20))
    with django_capture_on_commit_callbacks(execute=True):
        document = make_document(content=long_paragraph, sync=False)
    chunk = Chunk.objects.get(document=document)
    assert chunk.summarized and not chunk.needs_summary and chunk.searchable
    assert tasks.chunks_summarize.apply(args=[[chunk.pk]]).get() == 0  # already done


@pytest.mark.parametrize(
    "failures, statuses", [([ServerError(), RateLimited(retry_after=0)], [500, 429]), ([ServerError(503)], [503])]
)
def test_a_summary_the_provider_fails_is_retried_by_celery_until_it_answers(
    make_document, settings, celery_eager, openai_embeddings, django_capture_on_commit_callbacks, failures, statuses
):
    # given a piece long enough to be summarised, and a provider that fails (500, 429) before it answers,
    # with the call's own retries spent at once so each failure reaches the task
    settings.CHUNK_SUMMARIZE_OVER_TOKENS = 30
    settings.LLM_MAX_RETRIES = 0
    openai_embeddings.enqueue(*failures, Reply("Roll away from the second phase's flurry."), path=CHAT_PATH)
    long_paragraph = " ".join(f"Detail {i} about the second phase." for i in range(20))
    # when it is ingested for the background
    with django_capture_on_commit_callbacks(execute=True):
        document = make_document(content=long_paragraph, sync=False)
    # then Celery retried the summary until the provider answered, and the piece went live summarised
    assert [r.status for r in openai_embeddings.requests if r.path == CHAT_PATH] == [*statuses, 200]
    chunk = Chunk.objects.get(document=document)
    assert chunk.summarized and chunk.searchable and chunk.text == "Roll away from the second phase's flurry."
    document.refresh_from_db()
    assert document.index_status == "ready"


def test_a_summary_is_not_retried_when_the_account_is_out_of_credit(make_document, settings, openai_embeddings):
    settings.CHUNK_SUMMARIZE_OVER_TOKENS = 30
    openai_embeddings.enqueue(QuotaExhausted(), path=CHAT_PATH)
    document = make_document(content=" ".join(f"Detail {i} about the second phase." for i in range(20)), sync=False)
    chunk_ids = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    result = tasks.chunks_summarize.apply(args=[chunk_ids])
    assert result.failed() and isinstance(result.result, tasks.ProviderQuotaExhausted)
    assert len([r for r in openai_embeddings.requests if r.path == CHAT_PATH]) == 1


def test_reembed_refuses_a_dimension_the_column_does_not_hold(settings):
    from django.core.management import CommandError, call_command

    # given EMBEDDING_DIM changed without a migration of the halfvec(384) column
    settings.EMBEDDING_DIM = 256
    with pytest.raises(CommandError, match=r"EMBEDDING_DIM is 256 but knowledge_chunk.embedding holds halfvec\(384\)"):
        call_command("reembed", "--sync")
    assert embedding_column_dimensions() == 384


def test_reembed_command_re_embeds_chunks_of_another_model(make_document, settings, openai_embeddings):
    from io import StringIO

    from django.core.management import call_command

    settings.OPENAI_API_KEY = ""
    document = make_document()
    assert Chunk.objects.get(document=document).embedding_model == "offline-hash-ngram-v1"
    settings.OPENAI_API_KEY = "sk-test-knowledge"
    out = StringIO()
    call_command("reembed", "--game", "elden-ring", "--sync", stdout=out)
    assert "1 document(s) re-embedded here with text-embedding-3-small" in out.getvalue()
    chunk = Chunk.objects.get(document=document)
    assert chunk.embedding_model == "text-embedding-3-small" and chunk.searchable
    embedder = get_embedder()
    hits = chunk_search(game="elden-ring", embedding=embedder.embed(["Dodge"])[0], model_name=embedder.model_name)
    assert [h.chunk_id for h in hits] == [chunk.pk]
    assert (
        chunk_search(game="elden-ring", embedding=embedder.embed(["Dodge"])[0], model_name="offline-hash-ngram-v1")
        == []
    )
    out = StringIO()
    call_command("reembed", "--sync", stdout=out)
    assert out.getvalue().startswith("0 document(s)")


def test_reembed_refuses_a_dimension_the_table_cannot_hold(settings, db):
    from django.core.management import CommandError, call_command

    settings.EMBEDDING_DIM = 1536
    with pytest.raises(CommandError, match="needs a migration"):
        call_command("reembed")


# --- a real worker on the real broker -----------------------------------------------------------------
@pytest.fixture
def worker(openai_embeddings):
    """`celery -A config worker` in a subprocess, on the test broker, the test database and the OpenAI server."""
    broker = django_settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()  # no message left over from another test
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.knowledge.worker_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "OPENAI_API_KEY": "sk-test-knowledge",
        "OPENAI_BASE_URL": openai_embeddings.base_url,
        "EMBEDDING_MAX_RETRIES": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
        cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output[-5000:])  # shown when the test fails


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_embeds_queued_chunks_retrying_a_provider_failure(elden_ring, worker, openai_embeddings,
                                                                        tmp_path, settings):  # fmt: skip
    from django.core.management import call_command

    # given the provider fails the first call
    openai_embeddings.enqueue(ServerError(), path=EMBEDDINGS_PATH)
    source = tmp_path / "malenia.md"
    source.write_text("# 말레니아 2페이즈\n\n말레니아가 떠오르면 개화입니다. 반대 방향으로 달리세요.")
    # when the document is ingested for the background
    call_command("ingest", str(source), "--game", "elden-ring", "--category", "boss", stdout=io.StringIO())
    document = Document.objects.get()
    assert document.index_status == "indexing"
    # then the worker picks the batch from Redis, retries after the failure, and the chunks go live
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.index_status in ("ready", "failed") or worker.poll() is not None:
            break
        time.sleep(0.5)
    assert document.index_status == "ready", document.index_error
    statuses = [r.status for r in openai_embeddings.requests if r.path == EMBEDDINGS_PATH]
    assert statuses == [500, 200]
    embedder = get_embedder()
    hits = chunk_search(game="elden-ring", embedding=embedder.embed(["말레니아 2페이즈"])[0],
                        model_name=embedder.model_name)  # fmt: skip
    assert [h.title for h in hits] == ["말레니아 2페이즈"]
