"""The semantic cache, run for real on RediSearch (the test Valkey)."""

import logging
import math
import time
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import override_settings

from coach.models import QuestionLog
from coach.services.cache import (
    asemantic_cache_lookup,
    asemantic_cache_store,
    semantic_cache_evict_answer,
    semantic_cache_evict_document,
)
from coach.services.cache import semantic as semantic_module
from dev.demo.loader import demo_load
from dev.embedded import free_port
from knowledge.models import Game, GlossaryTerm
from knowledge.services.catalogue import catalogue_load
from tests.coach.conftest import ask
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.servers.openai_server import Reply, ServerError

MODEL = "text-embedding-3-small"  # a model whose threshold is SEMANTIC_CACHE_MAX_DISTANCE
ANSWER = {"answer": "Roll back through the first flurry, then towards her.", "sources": [], "model": "gpt-4o-mini"}


def vector(distance: float = 0.0, axis: int = 1) -> list[float]:
    """A unit vector at exactly `distance` (cosine) from axis 0, leaning towards `axis`."""
    cos = 1.0 - distance
    out = [0.0] * settings.EMBEDDING_DIM
    out[0] = cos
    out[axis] = math.sqrt(max(0.0, 1.0 - cos * cos))
    return out


@pytest.fixture
def semantic_cache(db):
    """The threshold these tests' vectors are placed against; the guard's names are the game's entity index
    (its glossary terms here, the shipped catalogue where a test loads it)."""
    with override_settings(SEMANTIC_CACHE_MAX_DISTANCE=0.14):
        yield


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
    return async_to_sync(asemantic_cache_store)(game=game, question=question, embedding=embedding or vector(), **fields)


def lookup(question="how to dodge malenia waterfowl dance", *, game="elden-ring", embedding=None, **kwargs):
    fields = {"category": "boss", "model_name": MODEL}
    fields.update(kwargs)
    return async_to_sync(asemantic_cache_lookup)(
        game=game, question=question, embedding=embedding or vector(0.05), **fields
    )


def test_near_question_in_the_same_scope_gets_the_stored_answer(semantic_cache, glossary):
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


def test_question_beyond_the_distance_threshold_misses(semantic_cache, glossary):
    store()
    assert lookup(embedding=vector(0.2)) is None
    with override_settings(SEMANTIC_CACHE_MAX_DISTANCE=0.25):
        assert lookup(embedding=vector(0.2)) is not None


def test_entries_are_scoped_by_game_category_language_and_tags(semantic_cache, glossary):
    store("How do I dodge the Waterfowl Dance?", tags=["patch-1.10"])
    # the same vector never crosses game, category, the answer's language or the tag filter
    assert lookup("how to dodge the waterfowl dance", game="lol", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance", category="build", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance", category=None, tags=["patch-1.10"]) is None
    assert lookup("물새 난무 어떻게 피해요", tags=["patch-1.10"]) is None
    assert lookup("how to dodge the waterfowl dance") is None
    assert lookup("how to dodge the waterfowl dance", tags=["patch-1.10"]) is not None


def test_a_rare_scope_is_found_among_many_nearer_entries_of_other_scopes(semantic_cache, glossary):
    # the KNN walks the graph and filters as it goes: a scope with 1 entry in 300 must still be found,
    # though 299 entries of another game sit nearer to the question
    for n in range(299):
        store(f"Yasuo combo number {n}?", game="lol", embedding=vector(0.01 * (n % 5), axis=2 + n % 50),
              answer_id=f"lol-{n}")  # fmt: skip
    entry_id = store(embedding=vector(0.1, axis=300))

    hit = lookup(embedding=vector(0.02, axis=300))

    assert hit is not None and hit.entry_id == entry_id


def test_vectors_from_another_embedding_model_are_never_compared(semantic_cache, glossary):
    store(model_name="offline-hash-ngram-v1")
    assert lookup(model_name="text-embedding-3-small") is None
    assert lookup(model_name="offline-hash-ngram-v1") is not None


def test_each_offline_model_has_the_threshold_the_bench_chose_for_it(semantic_cache, glossary):
    # e5 puts every question of a game within ~0.1 of another: its threshold is far below the setting's
    e5 = "offline-multilingual-e5-small-q4"
    assert semantic_module.MAX_DISTANCE_BY_MODEL[e5] < settings.SEMANTIC_CACHE_MAX_DISTANCE
    store(model_name=e5)
    with override_settings(SEMANTIC_CACHE_MAX_DISTANCE=0.3):
        assert lookup(model_name=e5, embedding=vector(0.05)) is not None
        assert lookup(model_name=e5, embedding=vector(0.1)) is None


def test_guard_refuses_a_near_vector_for_a_reversed_matchup(semantic_cache, glossary):
    # given "does Yasuo counter Yone" answered
    store("Does Yasuo counter Yone?", game="lol", category="matchup")
    # when the reverse is asked with an identical vector (what a character n-gram embedder gives)
    hit = lookup("Does Yone counter Yasuo?", game="lol", category="matchup", embedding=vector(0.0))
    # then it is a miss: a wrong answer is worse than an LLM call
    assert hit is None
    assert lookup("does yasuo counter yone", game="lol", category="matchup") is not None


def test_guard_refuses_another_boss_a_changed_number_and_a_negation(semantic_cache, glossary):
    store("Best spirit ash for Malenia phase 2?")
    assert lookup("Best spirit ash for Maliketh phase 2?", embedding=vector(0.01)) is None
    assert lookup("Best spirit ash for Malenia phase 1?", embedding=vector(0.01)) is None
    assert lookup("Best spirit ash for Malenia phase 2 without a shield?", embedding=vector(0.01)) is None
    assert lookup("best spirit ash for malenia phase 2", embedding=vector(0.01)) is not None


def test_a_refused_nearest_entry_does_not_hide_a_farther_one_that_passes(semantic_cache, glossary):
    store("Does Yone counter Yasuo?", game="lol", category="matchup", embedding=vector(0.0), answer_id="reverse")
    store("Does Yasuo counter Yone?", game="lol", category="matchup", embedding=vector(0.08, axis=2),
          answer_id="right")  # fmt: skip
    hit = lookup("does yasuo counter yone", game="lol", category="matchup", embedding=vector(0.0))
    assert hit is not None
    assert hit.answer_ids == ("right",)


@pytest.fixture
def league(db):
    """League of Legends with its shipped catalogue of names (knowledge/catalogue), as bin/run loads it."""
    Game.objects.create(slug="league-of-legends", name_ko="리그 오브 레전드", name_en="League of Legends")
    catalogue_load(game="league-of-legends")


def test_the_catalogue_lets_a_short_form_hit_and_refuses_a_reversed_korean_matchup(semantic_cache, league):
    game = {"game": "league-of-legends", "category": "matchup"}
    store("노틸러스 서폿 룬 뭐 가요?", **game, answer_id="naut")
    store("카직스 상대로 리신 어떻게 해요?", **game, embedding=vector(0.0, axis=3), answer_id="lee")
    # the players' short form and another politeness level: the same question
    assert lookup("혹시 노틸 서폿 룬 뭐 가야 됨?", **game, embedding=vector(0.01)).answer_ids == ("naut",)
    # the champions' roles swapped, with a vector as near as the embedder may put it: not the same
    assert lookup("리신 상대로 카직스 어떻게 해요?", **game, embedding=vector(0.0, axis=3)) is None
    assert lookup("리신으로 카직스 상대 어떻게 해요?", **game, embedding=vector(0.0, axis=3)).answer_ids == ("lee",)


def test_guard_setting_off_serves_on_distance_alone(semantic_cache, glossary):
    store("Does Yasuo counter Yone?", game="lol", category="matchup")
    with override_settings(SEMANTIC_CACHE_GUARD=False):
        assert lookup("Does Yone counter Yasuo?", game="lol", category="matchup") is not None


def test_entry_expires_after_its_ttl(semantic_cache, glossary):
    stored_at = time.monotonic()
    store(ttl=2.0)  # long enough for the first lookup on a loaded CI machine (0.4 s once was not)
    assert lookup() is not None
    time.sleep(max(0.0, stored_at + 2.2 - time.monotonic()))
    assert lookup() is None


def test_document_change_evicts_every_entry_answered_from_it(semantic_cache, glossary):
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


def test_down_vote_evicts_the_answer_and_answers_served_from_it(semantic_cache, glossary):
    store(answer_id="original")
    hit = lookup()
    # the ask view serves the hit under a new QuestionLog id, which keeps the entry's id
    assert hit.answer_ids == ("original",)
    # when the player down-votes the answer they were served
    assert semantic_cache_evict_answer(answer_id="served-later", entry_id=hit.entry_id) == 1
    # then nobody gets it again, and a second down-vote finds nothing left
    assert lookup() is None
    assert semantic_cache_evict_answer(answer_id="served-later", entry_id=hit.entry_id) == 0


def test_evictions_drop_entries_stored_from_the_event_loop_by_document_and_answer(semantic_cache, glossary):
    entry_id = async_to_sync(asemantic_cache_store)(
        game="elden-ring", question="Where is Malenia?", embedding=vector(), model_name=MODEL, payload=ANSWER,
        document_ids=[11], answer_id="q-9", category="boss",
    )  # fmt: skip
    hit = async_to_sync(asemantic_cache_lookup)(game="elden-ring", question="where is malenia", category="boss",
                                                embedding=vector(0.03), model_name=MODEL)  # fmt: skip
    assert hit is not None and hit.entry_id == entry_id
    assert semantic_cache_evict_answer(answer_id="nobody") == 0
    assert semantic_cache_evict_document(document_id=11) == 1
    assert lookup("where is malenia", embedding=vector(0.03)) is None
    again = async_to_sync(asemantic_cache_store)(
        game="elden-ring", question="Where is Malenia?", embedding=vector(), model_name=MODEL, payload=ANSWER,
        document_ids=[11], answer_id="q-9", category="boss",
    )  # fmt: skip
    assert semantic_cache_evict_answer(answer_id="q-10", entry_id=again) == 1
    assert lookup("where is malenia", embedding=vector(0.03)) is None


def test_a_vector_of_the_wrong_size_is_skipped_not_stored(semantic_cache, glossary, caplog):
    with caplog.at_level(logging.WARNING, logger="coach.cache"):
        assert store(embedding=[1.0, 0.0, 0.0]) is None
        assert lookup(embedding=[1.0, 0.0, 0.0]) is None
    assert "expected" in caplog.text


def test_redis_down_semantic_cache_fails_open(glossary, caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with (
        override_settings(COACH_CACHE_REDIS_URL=closed),
        caplog.at_level(logging.WARNING, logger="coach.cache"),
    ):
        assert store() is None
        assert lookup() is None
        assert async_to_sync(asemantic_cache_lookup)(game="elden-ring", question="q", embedding=vector(),
                                                     model_name=MODEL) is None  # fmt: skip
        # an eviction that could not run says so (None), and is logged as an error for the operator
        assert semantic_cache_evict_document(document_id=7) is None
        assert semantic_cache_evict_answer(answer_id="a-1") is None
    assert "Redis unavailable" in caplog.text
    assert "document 7 not evicted" in caplog.text


def _searches() -> int:
    from coach.services.cache.clients import redis_sync

    return int(redis_sync().info("commandstats").get("cmdstat_FT.SEARCH", {}).get("calls", 0))


def test_a_lookup_reads_the_scopes_entries_only_when_the_nearest_ones_cannot_tell(glossary, settings):
    # Valkey answers the filtered query by measuring every entry in scope, so a lookup first asks
    # for the nearest entries of the whole index; most questions are settled by that alone
    settings.SEMANTIC_CACHE_MAX_DISTANCE = 0.14
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
    settings.SEMANTIC_CACHE_MAX_DISTANCE = 0.14
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
    settings.SEMANTIC_CACHE_MAX_DISTANCE = 0.14
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


# --- confirmation by a small model (coach.services.cache.verify), against the local OpenAI stand-in ---


def alookup(question="how to dodge malenia waterfowl dance", **kwargs):
    fields = {"game": "elden-ring", "category": "boss", "model_name": MODEL, "embedding": vector(0.05)}
    fields.update(kwargs)
    return async_to_sync(asemantic_cache_lookup)(question=question, **fields)


@pytest.fixture
def verifying(openai_server, settings):
    settings.SEMANTIC_CACHE_VERIFY_MODEL = "gpt-4o-mini"
    return openai_server


def test_a_confirmed_hit_is_served_and_its_check_comes_off_the_money_saved(semantic_cache, glossary, verifying):
    # given an answered question that cost 0.002 USD, and a model that says the two questions are one
    store(payload={**ANSWER, "cost_usd": "0.002"})
    verifying.answer = "yes"
    # when a player asks it in other words
    hit = alookup()
    # then one small call asked the model about both questions, and the answer is served
    (request,) = verifying.chat_requests()
    assert request.model == "gpt-4o-mini" and request.max_tokens == 1
    assert "how to dodge malenia waterfowl dance" in request.messages[-1]["content"]
    assert "How do I dodge Malenia's Waterfowl Dance?" in request.messages[-1]["content"]
    assert hit is not None and hit.payload["answer"] == ANSWER["answer"]
    # and what the check cost is counted against what the reused answer saved
    assert 0 < hit.verify_cost_usd < Decimal("0.0001")
    assert Decimal(hit.payload["cost_usd"]) == Decimal("0.002") - hit.verify_cost_usd


@pytest.mark.parametrize("behaviour", [Reply(text="no"), Reply(text="maybe"), ServerError(500)])
def test_a_hit_the_model_does_not_confirm_is_a_miss(semantic_cache, glossary, verifying, behaviour):
    store()
    verifying.enqueue(behaviour)
    assert alookup() is None
    assert len(verifying.chat_requests()) >= 1


def test_without_a_verify_model_no_call_is_made(semantic_cache, glossary, openai_server):
    store()
    assert alookup() is not None
    assert openai_server.chat_requests() == []


def test_a_guard_refusal_never_reaches_the_model(semantic_cache, glossary, verifying):
    store("Does Yasuo counter Yone?", game="lol", category="matchup")
    assert alookup("Does Yone counter Yasuo?", game="lol", category="matchup", embedding=vector(0.0)) is None
    assert verifying.chat_requests() == []


# --- through the ask endpoint, as players see it ---------------------------------------------------


def test_players_get_a_cached_answer_for_a_rewording_but_never_for_the_reversed_matchup(demo):
    # given one player's answered question about playing Lee Sin against Jarvan IV (the demo loads the
    # League catalogue; the tests embed with the offline hashed n-grams, which cannot see word order)
    first = ask(
        bearer_client(UserFactory()), question="자르반 상대로 리신 정글 동선 어떻게 가요?", game="league-of-legends"
    )
    assert first.status_code == 200 and first.json()["cache"] == "none"
    # when another player asks the same with another politeness level and filler
    same = ask(
        bearer_client(UserFactory()), question="혹시 자르반 상대로 리신 정글 동선 어떻게 가?", game="league-of-legends"
    )
    # and a third asks the reverse: playing Jarvan IV against Lee Sin
    reverse = ask(
        bearer_client(UserFactory()), question="리신 상대로 자르반 정글 동선 어떻게 가요?", game="league-of-legends"
    )
    # then the rewording is answered from the cache, and the reverse is answered on its own
    assert same.json()["cache"] == "semantic" and same.json()["answer"] == first.json()["answer"]
    assert reverse.status_code == 200 and reverse.json()["cache"] == "none"


def test_a_confirmed_hit_saves_the_answer_cost_less_the_check_in_the_stats(demo, openai_server, settings):
    # given a deploy with a key and a verify model, and one player's answered question
    demo_load()  # the demo re-embedded through the server's model, as a deploy with a key would
    settings.SEMANTIC_CACHE_VERIFY_MODEL = "gpt-4o-mini"
    question = "How do I dodge Malenia's Waterfowl Dance?"
    first = ask(bearer_client(UserFactory()), question=question)
    assert first.json()["cache"] == "none"
    paid = QuestionLog.objects.get(cache=QuestionLog.Cache.NONE).cost_usd
    # when another player asks it and the small model confirms the two questions are one
    openai_server.enqueue(Reply(text="yes"))
    second = ask(bearer_client(UserFactory()), question=question)
    # then the answer comes from the cache, and what it saved is the answer's cost less the check's
    assert second.json()["cache"] == "semantic" and second.json()["answer"] == first.json()["answer"]
    check = openai_server.chat_requests()[-1]
    assert check.max_tokens == 1 and question in check.messages[-1]["content"]
    served = QuestionLog.objects.get(cache=QuestionLog.Cache.SEMANTIC)
    assert 0 < paid - served.saved_usd < Decimal("0.0001")


def test_the_check_that_confirmed_a_hit_is_logged_as_the_hits_cost(demo, openai_server, settings):
    # given a deploy with a key and a verify model, and one player's answered question
    demo_load()
    settings.SEMANTIC_CACHE_VERIFY_MODEL = "gpt-4o-mini"
    question = "How do I dodge Malenia's Waterfowl Dance?"
    assert ask(bearer_client(UserFactory()), question=question).json()["cache"] == "none"
    paid = QuestionLog.objects.get(cache=QuestionLog.Cache.NONE).cost_usd
    # when another player asks it and the small model confirms it
    openai_server.enqueue(Reply(text="yes"))
    assert ask(bearer_client(UserFactory()), question=question).json()["cache"] == "semantic"
    # then the hit's row costs what the check cost (no answer tokens), and saves the rest of the answer's cost
    served = QuestionLog.objects.get(cache=QuestionLog.Cache.SEMANTIC)
    assert 0 < served.cost_usd < Decimal("0.0001")
    assert (served.prompt_tokens, served.completion_tokens) == (0, 0)
    assert abs(served.cost_usd + served.saved_usd - paid) <= Decimal("0.00000002")
    # and without a verify model a third player's hit costs nothing and saves the whole answer
    settings.SEMANTIC_CACHE_VERIFY_MODEL = ""
    assert ask(bearer_client(UserFactory()), question=question).json()["cache"] == "semantic"
    unchecked = QuestionLog.objects.filter(cache=QuestionLog.Cache.SEMANTIC).latest("created_at")
    assert (unchecked.cost_usd, unchecked.saved_usd) == (0, paid)
