"""Shared fixtures: API clients, users and their tokens. App-specific fixtures live in tests/<app>/conftest.py."""

import asyncio
import socket
import threading
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from coach.services.cache import redis_index
from config import redis_probe
from knowledge.selectors import entity_indexes_forget
from tests.factories import UserFactory
from tests.servers.asgi import AsgiServer
from tests.servers.openai_server import OpenAIServer


def pytest_sessionfinish(session):
    """Close the OpenAI SDK clients that asks opened on event loops now gone (the sync test client runs
    each async view on a loop of its own, and nothing there shuts it down as uvicorn's lifespan does):
    aiohttp reports a session the collector finds still open, which at exit is a traceback per session."""
    from ai import embeddings, llm

    async def close_all():
        for clients in list(llm._async_clients.values()):
            for ring, _ in clients.values():
                for client in ring:
                    await client.close()
        for embedder in embeddings._embedders.values():
            for client in list(getattr(embedder, "_async_clients", {}).values()):
                await client.close()

    asyncio.run(close_all())


def pytest_configure(config):
    """The Korean catalogue compiled from locale/ko's .po before anything loads it (bin/_bootstrap does the same)."""
    from config.catalogue import catalogues_compile

    catalogues_compile()


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis (caches, throttles, the semantic index and its entries),
    and the process knows it: the next semantic store makes the index again."""
    cache.clear()
    redis_index.indexes_forget()
    entity_indexes_forget()  # the versions it was built at are gone
    yield


@pytest.fixture
def openai_server(settings):
    """The real openai SDK pointed at an OpenAI-compatible server on loopback; short backoff waits.
    (tests/knowledge has its own: one that checks the key, with the SDK's retries off.)"""
    from coach.services.llm import call as llm_call

    with OpenAIServer() as server:
        settings.OPENAI_API_KEY = "sk-test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.LLM_BACKOFF_SECONDS = 0.01
        server.answer = "Roll through Waterfowl Dance toward her, then punish. [1]"
        yield server
    llm_call._retired.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


def bearer_client(user) -> APIClient:
    """An APIClient that sends `Authorization: Bearer <access>` for user, as the app does."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def auth_client(user) -> APIClient:
    return bearer_client(user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return bearer_client(staff_user)


@pytest.fixture
def asgi_server(transactional_db):
    """The whole app on a real uvicorn server on loopback (see tests/servers/asgi.py)."""
    with AsgiServer() as server:
        yield server


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


def wait_for_probe(name: str) -> None:
    """Until config.redis_probe's PING of that name has answered (or failed)."""
    deadline = time.monotonic() + 5
    while redis_probe.probing(name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not redis_probe.probing(name)
