"""The semantic cache, run for real on both backends: RediSearch (the test Valkey) and pgvector."""

import logging
import math
import time

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import override_settings

from coach.models import SemanticCacheEntry
from coach.services.cache import (
    asemantic_cache_evict_answer,
    asemantic_cache_evict_document,
    asemantic_cache_lookup,
    asemantic_cache_store,
    semantic_cache_evict_answer,
    semantic_cache_evict_document,
    semantic_cache_lookup,
    semantic_cache_purge_expired,
    semantic_cache_store,
)
from coach.services.cache import semantic as semantic_module
from config.embedded import free_port
from knowledge.models import Game, GlossaryTerm

MODEL = "offline-hash-ngram-v1"
ANSWER = {"answer": "Roll back through the first flurry, then towards her.", "sources": [], "model": "gpt-4o-mini"}


def vector(distance: float = 0.0, axis: int = 1) -> list[float]:
    """A unit vector at exactly `distance` (cosine) from axis 0, leaning towards `axis`."""
    cos = 1.0 - distance
    out = [0.0] * settings.EMBEDDING_DIM
    out[0] = cos
    out[axis] = math.sqrt(max(0.0, 1.0 - cos * cos))
    return out


@pytest.fixture(params=["redis", "pgvector"])
def backend(request, db):
    """Each test runs once per backend; the glossary is read from knowledge's GlossaryTerm rows."""
    semantic_module._glossaries.clear()
    with override_settings(SEMANTIC_CACHE_BACKEND=request.param, SEMANTIC_CACHE_MAX_DISTANCE=0.14):
        yield request.param
    semantic_module._glossaries.clear()


@pytest.fixture
def glossary(db):
    games = {}
    for slug, terms in {
        "elden-ring": ["Malenia", "Maliketh", "Godrick", "Godfrey", "말레니아", "말리케스"],
        "lol": ["Yasuo", "Yone", "야스오", "요네"],
    }.items():
        games[slug] = Game.objects.create(slug=slug, name_ko=slug, name_en=slug)
        GlossaryTerm.objects.bulk_create(GlossaryTerm(game=games[slug], term=term) for term in terms)
    return games


def store(question="How do I dodge Malenia's Waterfowl Dance?", *, game="elden-ring", embedding=None, **kwargs):
    fields = {"category": "boss", "model_name": MODEL, "payload": ANSWER, "document_ids": [7], "answer_id": "a-1"}
    fields.update(kwargs)
    return semantic_cache_store(game=game, question=question, embedding=embedding or vector(), **fields)


def lookup(question="how to dodge malenia waterfowl dance", *, game="elden-ring", embedding=None, **kwargs):
    fields = {"category": "boss", "model_name": MODEL}
    fields.update(kwargs)
    return semantic_cache_lookup(game=game, question=question, embedding=embedding or vector(0.05), **fields)


def test_near_question_in_the_same_scope_gets_the_stored_answer(backend, glossary):
    # given an answered question
    entry_id = store()
    assert entry_id
    # when a player asks a rewording whose vector is within the threshold
    hit = lookup()
    # then the earlier answer comes back with where it came from
    assert hit is not None
    assert hit.payload == ANSWER
    assert hit.entry_id == entry_id
    assert hit.answer_ids == ("a-1",)
    assert hit.document_ids == ("7",)
    assert hit.question == "How do I dodge Malenia's Waterfowl Dance?"
    assert hit.distance == pytest.approx(0.05, abs=1e-4)


def test_question_beyond_the_distance_threshold_misses(backend, glossary):
    store()
    assert lookup(embedding=vector(0.2)) is None
    with override_settings(SEMANTIC_CACHE_MAX_DISTANCE=0.25):
        assert lookup(embedding=vector(0.2)) is not None


def test_entries_are_scoped_by_game_category_language_and_tags(backend, glossary):
    store("How do I dodge the Waterfowl Dance?", tags=["patch-1.10"])
    # the same vector never crosses game, category, the answer's language or the tag filter
    assert lookup("how to dodge the waterfowl dance", game="lol", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance", category="build", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance", category=None, tags=["patch-1.10"]) is None
    assert lookup("물새 난무 어떻게 피해요", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance") is None
    assert lookup("how to dodge the waterfowl dance", tags=["patch-1.10"]) is not None


def test_a_rare_scope_is_found_among_many_nearer_entries_of_other_scopes(backend, glossary):
    # the KNN walks the graph and filters as it goes: a scope with 1 entry in 300 must still be found,
    # though 299 entries of another game sit nearer to the question
    for n in range(299):
        store(f"Yasuo combo number {n}?", game="lol", embedding=vector(0.01 * (n % 5), axis=2 + n % 50),
              answer_id=f"lol-{n}")  # fmt: skip
    entry_id = store(embedding=vector(0.1, axis=300))

    hit = lookup(embedding=vector(0.02, axis=300))

    assert hit is not None and hit.entry_id == entry_id


def test_vectors_from_another_embedding_model_are_never_compared(backend, glossary):
    store(model_name="offline-hash-ngram-v1")
    assert lookup(model_name="text-embedding-3-small") is None
    assert lookup(model_name="offline-hash-ngram-v1") is not None


def test_guard_refuses_a_near_vector_for_a_reversed_matchup(backend, glossary):
    # given "does Yasuo counter Yone" answered
    store("Does Yasuo counter Yone?", game="lol", category="matchup")
    # when the reverse is asked with an identical vector (what a character n-gram embedder gives)
    hit = lookup("Does Yone counter Yasuo?", game="lol", category="matchup", embedding=vector(0.0))
    # then it is a miss: a wrong answer is worse than an LLM call
    assert hit is None
    assert lookup("does yasuo counter yone", game="lol", category="matchup") is not None


def test_guard_refuses_another_boss_a_changed_number_and_a_negation(backend, glossary):
    store("Best spirit ash for Malenia phase 2?")
    assert lookup("Best spirit ash for Maliketh phase 2?", embedding=vector(0.01)) is None
    assert lookup("Best spirit ash for Malenia phase 1?", embedding=vector(0.01)) is None
    assert lookup("Best spirit ash for Malenia phase 2 without a shield?", embedding=vector(0.01)) is None
    assert lookup("best spirit ash for malenia phase 2", embedding=vector(0.01)) is not None


def test_a_refused_nearest_entry_does_not_hide_a_farther_one_that_passes(backend, glossary):
    store("Does Yone counter Yasuo?", game="lol", category="matchup", embedding=vector(0.0), answer_id="reverse")
    store("Does Yasuo counter Yone?", game="lol", category="matchup", embedding=vector(0.08, axis=2),
          answer_id="right")  # fmt: skip
    hit = lookup("does yasuo counter yone", game="lol", category="matchup", embedding=vector(0.0))
    assert hit is not None
    assert hit.answer_ids == ("right",)


def test_guard_setting_off_serves_on_distance_alone(backend, glossary):
    store("Does Yasuo counter Yone?", game="lol", category="matchup")
    with override_settings(SEMANTIC_CACHE_GUARD=False):
        assert lookup("Does Yone counter Yasuo?", game="lol", category="matchup") is not None


def test_entry_expires_after_its_ttl(backend, glossary):
    store(ttl=0.4)
    assert lookup() is not None
    time.sleep(0.6)
    assert lookup() is None


def test_document_change_evicts_every_entry_answered_from_it(backend, glossary):
    # given three answers, two of which used document 7
    store("Malenia waterfowl dodge?", document_ids=[7, 9], answer_id="a-1")
    store("Malenia phase 2 tips?", document_ids=[7], answer_id="a-2", embedding=vector(0.0, axis=3))
    store("Godrick weakness?", document_ids=[8], answer_id="a-3", embedding=vector(0.0, axis=4))
    # when document 7 changes
    evicted = semantic_cache_evict_document(document_id=7)
    # then both of its answers are gone and the other stays
    assert evicted == 2
    assert lookup("malenia waterfowl dodge", embedding=vector(0.0)) is None
    assert lookup("malenia phase 2 tips", embedding=vector(0.0, axis=3)) is None
    assert lookup("godrick weakness", embedding=vector(0.0, axis=4)) is not None
    assert semantic_cache_evict_document(document_id=7) == 0


def test_down_vote_evicts_the_answer_and_answers_served_from_it(backend, glossary):
    store(answer_id="original")
    hit = lookup()
    # the ask view serves the hit under a new QuestionLog id, which keeps the entry's id
    assert hit.answer_ids == ("original",)
    # when the player down-votes the answer they were served
    assert semantic_cache_evict_answer(answer_id="served-later", entry_id=hit.entry_id) == 1
    # then nobody gets it again, and a second down-vote finds nothing left
    assert lookup() is None
    assert semantic_cache_evict_answer(answer_id="served-later", entry_id=hit.entry_id) == 0


def test_async_variants_store_look_up_and_evict(backend, glossary):
    entry_id = async_to_sync(asemantic_cache_store)(
        game="elden-ring", question="Where is Malenia?", embedding=vector(), model_name=MODEL, payload=ANSWER,
        document_ids=[11], answer_id="q-9", category="boss",
    )  # fmt: skip
    hit = async_to_sync(asemantic_cache_lookup)(game="elden-ring", question="where is malenia", category="boss",
                                                embedding=vector(0.03), model_name=MODEL)  # fmt: skip
    assert hit is not None and hit.entry_id == entry_id
    assert async_to_sync(asemantic_cache_evict_answer)(answer_id="nobody") == 0
    assert async_to_sync(asemantic_cache_evict_document)(document_id=11) == 1
    assert lookup("where is malenia", embedding=vector(0.03)) is None
    again = async_to_sync(asemantic_cache_store)(
        game="elden-ring", question="Where is Malenia?", embedding=vector(), model_name=MODEL, payload=ANSWER,
        document_ids=[11], answer_id="q-9", category="boss",
    )  # fmt: skip
    assert async_to_sync(asemantic_cache_evict_answer)(answer_id="q-10", entry_id=again) == 1
    assert lookup("where is malenia", embedding=vector(0.03)) is None


def test_a_vector_of_the_wrong_size_is_skipped_not_stored(backend, glossary, caplog):
    with caplog.at_level(logging.WARNING, logger="coach.cache"):
        assert store(embedding=[1.0, 0.0, 0.0]) is None
        assert lookup(embedding=[1.0, 0.0, 0.0]) is None
    assert "expected" in caplog.text


def test_expired_pgvector_rows_are_purged(glossary):
    with override_settings(SEMANTIC_CACHE_BACKEND="pgvector"):
        store(ttl=0.01)
        store("Where is Malenia?", embedding=vector(0.0, axis=3))
        time.sleep(0.05)
        assert semantic_cache_purge_expired() == 1
        assert SemanticCacheEntry.objects.count() == 1
    with override_settings(SEMANTIC_CACHE_BACKEND="redis"):
        assert semantic_cache_purge_expired() == 0  # Redis expires its own keys


def test_redis_down_semantic_cache_fails_open(glossary, caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with (
        override_settings(SEMANTIC_CACHE_BACKEND="redis", COACH_CACHE_REDIS_URL=closed),
        caplog.at_level(logging.WARNING, logger="coach.cache"),
    ):
        assert store() is None
        assert lookup() is None
        assert async_to_sync(asemantic_cache_lookup)(game="elden-ring", question="q", embedding=vector(),
                                                     model_name=MODEL) is None  # fmt: skip
        # an eviction that could not run says so (None), and is logged as an error for the operator
        assert semantic_cache_evict_document(document_id=7) is None
        assert semantic_cache_evict_answer(answer_id="a-1") is None
        assert async_to_sync(asemantic_cache_evict_document)(document_id=7) is None
    assert "Redis unavailable" in caplog.text
    assert "document 7 not evicted" in caplog.text


def test_off_setting_disables_the_semantic_cache(glossary):
    with override_settings(SEMANTIC_CACHE_BACKEND="off"):
        assert store() is None
        assert lookup() is None
        assert semantic_cache_evict_document(document_id=7) == 0


def _searches() -> int:
    from coach.services.cache.clients import redis_sync

    return int(redis_sync().info("commandstats").get("cmdstat_FT.SEARCH", {}).get("calls", 0))


def test_a_lookup_reads_the_scopes_entries_only_when_the_nearest_ones_cannot_tell(glossary, settings):
    # Valkey answers the filtered query by measuring every entry in scope, so a lookup first asks
    # for the nearest entries of the whole index; most questions are settled by that alone
    settings.SEMANTIC_CACHE_BACKEND, settings.SEMANTIC_CACHE_MAX_DISTANCE = "redis", 0.14
    store()  # boss category, distance 0 from axis 0
    searches = _searches()

    far = lookup(embedding=vector(0.5, axis=7))  # nothing within reach: a miss, one query
    near = lookup()  # the nearest entries are all in scope: a hit, one query
    after_two = _searches()
    elsewhere = lookup(category="build")  # an entry of another scope within reach: the filtered query too

    assert far is None and near is not None and elsewhere is None
    assert after_two - searches == 2
    assert _searches() - after_two == 2


def test_many_entries_of_the_scope_within_reach_still_take_one_query(glossary, settings):
    # questions that differ by a number sit close together; the nearest of them are the scope's own
    settings.SEMANTIC_CACHE_BACKEND, settings.SEMANTIC_CACHE_MAX_DISTANCE = "redis", 0.14
    for n in range(3 * settings.SEMANTIC_CACHE_CANDIDATES):
        store(f"How do I reach level {n + 10} fast?", embedding=vector(0.001 * n, axis=2 + n), answer_id=f"l-{n}")
    searches = _searches()

    hit = lookup("How do I reach level 12 fast?", embedding=vector(0.0005))

    assert hit is not None and hit.question == "How do I reach level 12 fast?"
    assert _searches() - searches == 1


def _creates() -> int:
    from coach.services.cache.clients import redis_sync

    return int(redis_sync().info("commandstats").get("cmdstat_FT.CREATE", {}).get("calls", 0))


def test_stores_make_the_index_only_until_it_is_known_and_entries_survive_it_vanishing(glossary, settings):
    settings.SEMANTIC_CACHE_BACKEND, settings.SEMANTIC_CACHE_MAX_DISTANCE = "redis", 0.14
    from coach.services.cache import redis_index
    from coach.services.cache.clients import redis_sync

    creates = _creates()
    store()  # a fresh Redis: the store makes the index in its round trip
    assert _creates() - creates == 1
    for n in range(3):  # now known to exist: the entry alone
        store(f"Where is the Haligtree medallion piece {n}?", embedding=vector(0.3, axis=3 + n), answer_id=f"m-{n}")
    async_to_sync(asemantic_cache_store)(
        game="elden-ring", question="Where is Ranni's tower?", embedding=vector(0.4, axis=9), model_name=MODEL,
        payload=ANSWER, document_ids=[8], answer_id="r-1", category="boss",
    )  # fmt: skip
    assert _creates() - creates == 1

    # the index is dropped behind the process's back (the keys stay), and another answer is stored
    redis_sync().execute_command("FT.DROPINDEX", redis_index.index_name())
    store("What does Malenia's scarlet rot do?", embedding=vector(0.6, axis=5), answer_id="s-1")

    # the next lookup finds the index missing and makes it again; RediSearch then indexes every key
    # under its prefix, the one stored while it was gone included
    assert lookup("What does Malenia's scarlet rot do?", embedding=vector(0.6, axis=5)) is None
    deadline = time.monotonic() + 10
    while (hit := lookup("What does Malenia's scarlet rot do?", embedding=vector(0.6, axis=5))) is None:
        assert time.monotonic() < deadline, "the entry stored while the index was gone never came back"
        time.sleep(0.05)
    assert hit.answer_ids == ("s-1",)
    assert lookup() is not None  # and the first one
