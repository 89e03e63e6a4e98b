"""Shared fixtures: API clients, users and their tokens. App-specific fixtures live in tests/<app>/conftest.py."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from coach.services.cache import redis_index
from tests.factories import UserFactory
from tests.servers.asgi import AsgiServer
from tests.servers.openai_server import OpenAIServer


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis (caches, throttles, the semantic index and its entries),
    and the process knows it: the next semantic store makes the index again."""
    cache.clear()
    redis_index.indexes_forget()
    yield


@pytest.fixture
def openai_server(settings):
    """The real openai SDK pointed at an OpenAI-compatible server on loopback; short backoff waits.
    (tests/knowledge has its own: one that checks the key, with the SDK's retries off.)"""
    from coach.services import llm

    with OpenAIServer() as server:
        settings.OPENAI_API_KEY = "sk-test-key"
        settings.OPENAI_BASE_URL = server.base_url
        settings.LLM_BACKOFF_SECONDS = 0.01
        server.answer = "Roll through Waterfowl Dance toward her, then punish. [1]"
        yield server
    llm._retired.clear()


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
