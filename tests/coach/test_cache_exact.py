"""The exact short-TTL cache: a resent question gets the stored answer; Redis down is a miss, not an error."""

import logging
import time

from asgiref.sync import async_to_sync
from django.test import override_settings

from coach.services.cache import (
    aquestion_cached,
    aquestion_keep,
    exact_cache_get,
    exact_cache_set,
)
from coach.services.cache.exact import question_fingerprint, question_normalize_exact
from dev.embedded import free_port
from tests.coach.conftest import exact_answer_read

PAYLOAD = {
    "answer": "2페이즈 물새춤은 첫 타를 뒤로 구르고 나머지는 앞으로 굴러서 피하세요.",
    "sources": [{"document_id": 7, "title": "Malenia guide", "url": "https://example.com/m", "chunk_id": 31}],
    "model": "gpt-4o-mini",
    "usage": {"prompt_tokens": 812, "completion_tokens": 96},
    "question_log_id": "6f1c2a8e-3b7d-4e58-9d7e-0c5f1a2b3c4d",
}


def test_resent_question_within_the_ttl_gets_the_stored_answer():
    # given an answered question
    assert exact_cache_set(user_id=1, game="elden-ring", question="말레니아 2페이즈 어떻게 피해요?", payload=PAYLOAD)
    # when the same player resends it with other spacing, case and trailing punctuation
    for resend in [
        "말레니아  2페이즈 어떻게 피해요",
        " 말레니아 2페이즈 어떻게 피해요？",
        "말레니아 2페이즈 어떻게 피해요?!~",
    ]:
        # then the stored payload comes back whole
        assert exact_cache_get(user_id=1, game="elden-ring", question=resend) == PAYLOAD


def test_answer_is_only_reused_for_the_same_user_game_question_and_filters():
    exact_cache_set(user_id=1, game="elden-ring", question="Malenia phase 2?", payload=PAYLOAD, category="boss")
    assert exact_cache_get(user_id=1, game="elden-ring", question="MALENIA   phase 2", category="boss") == PAYLOAD
    assert exact_cache_get(user_id=2, game="elden-ring", question="Malenia phase 2?", category="boss") is None
    assert exact_cache_get(user_id=1, game="lol", question="Malenia phase 2?", category="boss") is None
    assert exact_cache_get(user_id=1, game="elden-ring", question="Malenia phase 1?", category="boss") is None
    assert exact_cache_get(user_id=1, game="elden-ring", question="Malenia phase 2?", category="build") is None
    assert exact_cache_get(user_id=1, game="elden-ring", question="Malenia phase 2?") is None
    assert exact_cache_get(user_id=1, game="elden-ring", question="Malenia phase 2?", category="boss",
                           tags=["patch-1.10"]) is None  # fmt: skip


def test_tags_match_in_any_order():
    exact_cache_set(user_id=1, game="lol", question="Jinx build", payload=PAYLOAD, tags=["aram", "14.3"])
    assert exact_cache_get(user_id=1, game="lol", question="jinx build", tags=["14.3", "aram"]) == PAYLOAD


@override_settings(EXACT_CACHE_TTL_SECONDS=1.0)
def test_entry_expires_after_the_ttl():
    stored_at = time.monotonic()
    exact_cache_set(user_id=1, game="lol", question="Does Yasuo counter Yone?", payload=PAYLOAD)
    assert exact_cache_get(user_id=1, game="lol", question="Does Yasuo counter Yone?") == PAYLOAD
    time.sleep(max(0.0, stored_at + 1.15 - time.monotonic()))
    assert exact_cache_get(user_id=1, game="lol", question="Does Yasuo counter Yone?") is None


def test_the_asks_read_and_write_use_the_same_entries():
    # given an answer stored by the ask (coach.services.cache.question, redis.asyncio)
    assert async_to_sync(aquestion_keep)(scope={"user_id": 5, "game": "valorant", "question": "Vandal or Phantom?"},
                                         payload=PAYLOAD)  # fmt: skip
    # then both find it, and a sync write is seen by the ask's read
    assert exact_cache_get(user_id=5, game="valorant", question="vandal or phantom") == PAYLOAD
    assert async_to_sync(exact_answer_read)(user_id=5, game="valorant", question="Vandal or Phantom") == PAYLOAD
    exact_cache_set(user_id=5, game="valorant", question="Jett dash?", payload={"answer": "x"})
    assert async_to_sync(exact_answer_read)(user_id=5, game="valorant", question="jett dash") == {"answer": "x"}


def test_payload_values_that_json_cannot_hold_come_back_as_strings():
    from decimal import Decimal

    exact_cache_set(user_id=1, game="lol", question="q", payload={"cost_usd": Decimal("0.00225")})
    assert exact_cache_get(user_id=1, game="lol", question="q") == {"cost_usd": "0.00225"}


def test_redis_down_is_a_logged_miss_never_an_error(caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(COACH_CACHE_REDIS_URL=closed), caplog.at_level(logging.WARNING, logger="coach.cache"):
        # when Redis cannot be reached, a write reports False and a read is a miss
        assert exact_cache_set(user_id=1, game="lol", question="q", payload=PAYLOAD) is False
        assert exact_cache_get(user_id=1, game="lol", question="q") is None
        scope = {"user_id": 1, "game": "lol", "question": "q"}
        found = async_to_sync(aquestion_cached)(scope=scope, model_name="m", question="q")
        assert (found.answer, found.embedding) == (None, None)
        assert async_to_sync(aquestion_keep)(scope=scope, payload=PAYLOAD, model_name="m", question="q",
                                             embedding=[0.5] * 8) is False  # fmt: skip
    assert "Redis unavailable" in caplog.text
    # and the real Redis is untouched
    assert exact_cache_get(user_id=1, game="lol", question="q") is None


def test_async_redis_down_is_a_miss_on_first_contact(caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(COACH_CACHE_REDIS_URL=closed), caplog.at_level(logging.WARNING, logger="coach.cache"):
        assert async_to_sync(aquestion_cached)(scope={"user_id": 1, "game": "lol", "question": "q"}, model_name="m",
                                               question="q").answer is None  # fmt: skip
    assert "exact answer and embedding get skipped, Redis unavailable" in caplog.text


def test_normalisation_is_nfkc_casefold_single_spaces_and_no_trailing_punctuation():
    assert question_normalize_exact("  Ｍalenia\u3000PHASE   2 ?!… ") == "malenia phase 2"
    assert question_fingerprint("Malenia phase 2") == question_fingerprint("malenia  PHASE 2??")
    assert question_fingerprint("Malenia phase 2") != question_fingerprint("Malenia phase 3")
    assert question_normalize_exact("what's a 'parry'?") == "what's a 'parry"


def test_a_kept_embedding_of_another_length_is_not_used(settings):
    """EMBEDDING_DIM changed under the same model: the kept vectors are ignored, not sent to retrieval."""
    kept = [0.25] * settings.EMBEDDING_DIM
    assert async_to_sync(aquestion_keep)(model_name="m", question="Malenia phase 2?", embedding=kept)
    assert async_to_sync(aquestion_cached)(scope=None, model_name="m", question="malenia phase 2").embedding == kept

    settings.EMBEDDING_DIM = settings.EMBEDDING_DIM // 2

    assert async_to_sync(aquestion_cached)(scope=None, model_name="m", question="Malenia phase 2?").embedding is None
