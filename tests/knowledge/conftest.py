"""Knowledge fixtures: games, a document factory that really indexes, the OpenAI server, eager Celery."""

import pytest

from config.celery import app as celery_app
from knowledge.models import Document
from knowledge.services.documents import document_create
from knowledge.services.games import game_create_or_update
from tests.servers.openai_server import OpenAIServer


@pytest.fixture
def elden_ring(db):
    return game_create_or_update(
        slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring", categories=["boss", "build"]
    )


@pytest.fixture
def league(db):
    return game_create_or_update(slug="league-of-legends", name_ko="리그 오브 레전드", name_en="League of Legends")


@pytest.fixture
def make_document(elden_ring):
    """Create a document and index it inline (sync), as `ingest --sync` does."""

    def make(**fields) -> Document:
        values = {
            "game": elden_ring,
            "title": "A guide",
            "content": "Dodge the attack by rolling towards the boss.",
            "category": "boss",
            "status": Document.Status.PUBLISHED,
            "sync": True,
        }
        values.update(fields)
        return document_create(**values)

    return make


@pytest.fixture
def celery_eager():
    """Tasks run inline when queued: for tests about the task logic, not the queue.

    Failures are not propagated: a retry then runs inline as Celery's eager mode does, and a final
    failure is recorded by the task (as on a worker) rather than raised into the test.
    """
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = False
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def openai_server():
    with OpenAIServer(api_key="sk-test-knowledge") as server:
        yield server


@pytest.fixture
def openai_embeddings(openai_server, settings):
    """Point the real OpenAI SDK at the local server; its own retries off so tests see each failure."""
    settings.OPENAI_API_KEY = "sk-test-knowledge"
    settings.OPENAI_BASE_URL = openai_server.base_url
    settings.EMBEDDING_MAX_RETRIES = 0
    return openai_server
