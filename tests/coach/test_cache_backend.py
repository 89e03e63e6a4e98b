"""Whether the semantic cache runs: on Redis with the search module, else off, found once and shown by /readyz."""

import pytest
import redis
from asgiref.sync import async_to_sync
from django.test import override_settings

from coach.services.cache import (
    asemantic_cache_lookup,
    asemantic_cache_store,
    exact_cache_get,
    exact_cache_set,
    semantic_cache_backend,
    semantic_cache_evict_document,
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


def test_redis_with_the_search_module_runs_the_semantic_cache():
    assert semantic_cache_backend() == "redis"


def test_semantic_cache_is_off_against_a_redis_without_the_search_module(plain_valkey, db, api_client):
    # given a Redis that answers FT._LIST with "unknown command"
    with pytest.raises(redis.ResponseError):
        redis.Redis.from_url(plain_valkey.url).execute_command("FT._LIST")
    with override_settings(COACH_CACHE_REDIS_URL=plain_valkey.url):
        # when the cache asks whether it can run
        assert semantic_cache_backend() == "off"
        # then the semantic cache neither stores nor answers, and eviction has nothing to do
        entry_id = async_to_sync(asemantic_cache_store)(
            game="lol",
            question="Does Yasuo counter Yone?",
            embedding=vector(),
            model_name=MODEL,
            payload=ANSWER,
            document_ids=[3],
            category="matchup",
        )
        assert entry_id is None
        hit = async_to_sync(asemantic_cache_lookup)(
            game="lol", question="does yasuo counter yone", embedding=vector(0.02), model_name=MODEL, category="matchup"
        )
        assert hit is None
        assert semantic_cache_evict_document(document_id=3) == 0
        # and the exact cache still uses that Redis
        assert exact_cache_set(user_id=1, game="lol", question="q", payload=ANSWER)
        assert redis.Redis.from_url(plain_valkey.url).dbsize() == 1
        assert exact_cache_get(user_id=1, game="lol", question="q") == ANSWER
        # and /readyz says so, without failing the probe
        response = api_client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"]["semantic_cache"] == "off"


def test_the_answer_is_found_once_and_remembered(plain_valkey):
    with override_settings(COACH_CACHE_REDIS_URL=plain_valkey.url):
        assert semantic_cache_backend() == "off"
        plain_valkey.stop()  # the server going away later does not flip the answer mid-flight
        assert semantic_cache_backend() == "off"


def test_readyz_reports_the_redis_backend(api_client, db):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["semantic_cache"] == "redis"


def test_unreachable_redis_leaves_the_answer_open_and_the_cache_missing(db):
    closed = f"redis://127.0.0.1:{embedded.free_port()}/0"
    with override_settings(COACH_CACHE_REDIS_URL=closed):
        assert semantic_cache_backend() == "unavailable"
        assert closed not in semantic_module._has_search  # found out when Redis answers
        lookup = async_to_sync(asemantic_cache_lookup)
        assert lookup(game="lol", question="q", embedding=vector(), model_name=MODEL) is None
