"""Where the semantic cache runs: Redis with the search module, else pgvector, chosen once and shown by /readyz."""

import pytest
import redis
from django.test import override_settings

from coach.models import SemanticCacheEntry
from coach.services.cache import (
    exact_cache_get,
    exact_cache_set,
    semantic_cache_backend,
    semantic_cache_lookup,
    semantic_cache_store,
)
from coach.services.cache import semantic as semantic_module
from dev import embedded
from tests.coach.test_cache_semantic import ANSWER, MODEL, vector


@pytest.fixture
def plain_valkey(tmp_path):
    """A second Valkey without the search module, as some managed Redis offerings are."""
    server = embedded.valkey_start(tmp_path / "plain-valkey", embedded.free_port(), persist=False, modules=())
    yield server
    server.stop()


def test_auto_picks_redis_when_the_server_has_the_search_module():
    with override_settings(SEMANTIC_CACHE_BACKEND="auto"):
        assert semantic_cache_backend() == "redis"


def test_auto_picks_pgvector_against_a_redis_without_the_search_module(plain_valkey, db, api_client):
    # given a Redis that answers FT._LIST with "unknown command"
    with pytest.raises(redis.ResponseError):
        redis.Redis.from_url(plain_valkey.url).execute_command("FT._LIST")
    with override_settings(SEMANTIC_CACHE_BACKEND="auto", COACH_CACHE_REDIS_URL=plain_valkey.url):
        # when the cache decides where to run
        assert semantic_cache_backend() == "pgvector"
        # then the semantic cache works on pgvector, and the exact cache still uses that Redis
        entry_id = semantic_cache_store(
            game="lol",
            question="Does Yasuo counter Yone?",
            embedding=vector(),
            model_name=MODEL,
            payload=ANSWER,
            document_ids=[3],
            category="matchup",
        )
        assert SemanticCacheEntry.objects.filter(id=entry_id).exists()
        hit = semantic_cache_lookup(
            game="lol", question="does yasuo counter yone", embedding=vector(0.02), model_name=MODEL, category="matchup"
        )
        assert hit is not None and hit.payload == ANSWER
        assert exact_cache_set(user_id=1, game="lol", question="q", payload=ANSWER)
        assert redis.Redis.from_url(plain_valkey.url).dbsize() == 1
        assert exact_cache_get(user_id=1, game="lol", question="q") == ANSWER
        # and /readyz says so
        response = api_client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["semantic_cache"] == "pgvector"


def test_the_choice_is_made_once_and_remembered(plain_valkey):
    with override_settings(SEMANTIC_CACHE_BACKEND="auto", COACH_CACHE_REDIS_URL=plain_valkey.url):
        assert semantic_cache_backend() == "pgvector"
        plain_valkey.stop()  # the server going away later does not flip the backend mid-flight
        assert semantic_cache_backend() == "pgvector"


def test_readyz_reports_the_redis_backend(api_client, db):
    with override_settings(SEMANTIC_CACHE_BACKEND="auto"):
        response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["semantic_cache"] == "redis"


def test_unreachable_redis_leaves_the_choice_open_and_the_cache_missing(db):
    closed = f"redis://127.0.0.1:{embedded.free_port()}/0"
    with override_settings(SEMANTIC_CACHE_BACKEND="auto", COACH_CACHE_REDIS_URL=closed):
        assert semantic_cache_backend() == "unavailable"
        assert ("auto", closed) not in semantic_module._backend_choice  # decided when Redis answers
        assert semantic_cache_lookup(game="lol", question="q", embedding=vector(), model_name=MODEL) is None


def test_forced_backend_setting_wins_and_a_bad_value_is_refused():
    with override_settings(SEMANTIC_CACHE_BACKEND="pgvector"):
        assert semantic_cache_backend() == "pgvector"
    with override_settings(SEMANTIC_CACHE_BACKEND="elasticsearch"), pytest.raises(ValueError, match="one of"):
        semantic_cache_backend()


def test_readyz_names_a_misconfigured_backend_instead_of_failing(api_client, db):
    with override_settings(SEMANTIC_CACHE_BACKEND="elasticsearch"):
        response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["semantic_cache"] == "misconfigured"
