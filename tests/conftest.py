"""Shared fixtures: API clients, users and tokens."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis (caches, quotas, throttles)."""
    cache.clear()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
