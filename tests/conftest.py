"""Shared fixtures: API clients, users and their tokens. App-specific fixtures live in tests/<app>/conftest.py."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import UserFactory
from tests.servers.asgi import AsgiServer


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis (caches, throttles, indexes' documents)."""
    cache.clear()
    yield


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
