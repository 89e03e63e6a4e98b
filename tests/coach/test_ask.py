"""POST /api/coach/ask end to end: quota, both caches, retrieval, the LLM (offline and over HTTP), logs."""

import array
import json
import socket
from decimal import Decimal

import pytest
from django.conf import settings

from billing.models import CallRecord, UsageCounter
from coach.models import QuestionLog
from coach.services.cache import question_vector_key
from coach.services.cache.clients import redis_sync
from dev.demo.loader import demo_load
from tests.coach.conftest import ASK, ask
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.servers.openai_server import EMBEDDINGS_PATH, Hang, Malformed, ServerError, embedding_vector

pytestmark = pytest.mark.django_db


def _used(user) -> int:
    row = UsageCounter.objects.filter(user=user, period="week").first()
    return row.used if row else 0


def test_a_question_is_answered_offline_from_the_curated_sources(demo, user, auth_client):
    response = ask(auth_client)

    assert response.status_code == 200
    body = response.json()
    assert body["cache"] == "none"
    assert body["answer"]
    assert any("말레니아" in source["title"] or "Malenia" in source["title"] for source in body["sources"])
    assert response["X-Plan-Remaining"] == "29"
    assert response["X-Cost-USD"] == "0"
    log = QuestionLog.objects.get(id=body["id"])
    assert log.user == user and log.answer == body["answer"] and log.cache == "none"
    assert {"admit", "embed", "semantic_cache", "retrieve", "llm", "total"} <= set(log.stage_ms)
    assert body["conversation_id"] == str(log.conversation_id)


def test_a_resend_within_five_minutes_comes_from_the_exact_cache_and_costs_no_call(demo, user, auth_client):
    first = ask(auth_client).json()

    again = ask(auth_client, question="  말레니아 2페이즈   어떻게 피해요 ")

    assert again.status_code == 200
    assert again.json()["cache"] == "exact"
    assert again.json()["answer"] == first["answer"]
    assert again.json()["id"] != first["id"]
    assert again["X-Plan-Remaining"] == "29"
    assert _used(user) == 1
    assert QuestionLog.objects.filter(user=user).count() == 2


@pytest.fixture
def log_writes_fail(transactional_db):
    """PostgreSQL refuses QuestionLog rows as a server going down would (SQLSTATE 57P01), until dropped."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """CREATE FUNCTION test_log_refused() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'terminating connection' USING ERRCODE = '57P01'; END $$;
               CREATE TRIGGER test_log_refused BEFORE INSERT ON coach_questionlog
               FOR EACH ROW EXECUTE FUNCTION test_log_refused();"""
        )

    def drop():
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS test_log_refused ON coach_questionlog; "
                           "DROP FUNCTION IF EXISTS test_log_refused();")  # fmt: skip

    yield drop
    drop()


@pytest.mark.django_db(transaction=True)  # the failed INSERT must not abort the test's own transaction
def test_an_answer_whose_log_row_failed_is_still_cached_so_the_resend_costs_nothing(log_writes_fail):
    demo_load()
    user = UserFactory()
    client = bearer_client(user)

    failed = ask(client)

    assert failed.status_code == 503 and failed.json()["error"]["code"] == "database_unavailable"
    assert _used(user) == 0  # the call was given back
    log_writes_fail()  # PostgreSQL is back
    again = ask(client)
    assert again.status_code == 200 and again.json()["cache"] == "exact"
    assert again.json()["answer"]
    assert _used(user) == 0
    assert list(QuestionLog.objects.filter(user=user).values_list("cache", flat=True)) == ["exact"]


def test_another_player_asking_the_same_question_gets_a_semantic_hit_and_spends_a_call(demo, auth_client):
    first = ask(auth_client).json()
    other = UserFactory()

    response = ask(bearer_client(other))

    assert response.json()["cache"] == "semantic"
    assert response.json()["answer"] == first["answer"]
    assert response["X-Cost-USD"] == "0"
    assert _used(other) == 1


def test_answers_through_the_openai_sdk_cost_what_the_usage_says(demo, user, openai_server, settings):
    demo_load()  # re-embed the demo through the server's embedding model, as a deploy with a key would
    client = bearer_client(user)

    response = ask(client, question="How do I dodge Malenia's Waterfowl Dance?")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["answer"] == openai_server.answer
    assert body["model"] == "gpt-4o-mini"
    request = openai_server.chat_requests()[-1]
    assert request.max_tokens == 2000  # the free plan's response limit
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    expected = (
        Decimal(usage["prompt_tokens"]) * Decimal("0.15") + Decimal(usage["completion_tokens"]) * Decimal("0.60")
    ) / 10**6
    assert Decimal(response["X-Cost-USD"]) == expected
    assert QuestionLog.objects.get(id=body["id"]).cost_usd == expected


def test_when_the_llm_keeps_failing_the_player_gets_503_and_the_call_back(demo, user, openai_server):
    demo_load()
    openai_server.enqueue(*[ServerError()] * 4)

    response = ask(bearer_client(user), question="How do I dodge Malenia's Waterfowl Dance?")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ai_unavailable"
    assert response["X-Plan-Remaining"] == "30"
    assert _used(user) == 0
    log = QuestionLog.objects.get(user=user)
    assert log.error_code == "ai_unavailable" and log.answer == ""


def test_an_embeddings_reply_the_service_cannot_read_is_a_503_with_the_call_back(demo, user, openai_server):
    demo_load()
    openai_server.enqueue(Malformed(), path=EMBEDDINGS_PATH)

    response = ask(bearer_client(user), question="How do I dodge Malenia's Waterfowl Dance?")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ai_unavailable"
    assert response.json()["error"]["details"] == {"stage": "embed"}
    assert response["X-Plan-Remaining"] == "30" and _used(user) == 0
    assert QuestionLog.objects.get(user=user).error_code == "ai_unavailable"
    assert not CallRecord.objects.filter(user=user).exists()  # the embedding comes before admission
    assert openai_server.chat_requests() == []  # no answer is paid for without the question's embedding


@pytest.mark.parametrize("failure", ["refused", "hang"])
def test_an_embeddings_service_that_refuses_is_a_503_and_one_that_hangs_a_504(demo, user, openai_server, failure):
    """The SDK's aiohttp client reports both as a timeout; the player is told which it was."""
    demo_load()
    settings.EMBEDDING_MAX_RETRIES = 0
    if failure == "refused":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            settings.OPENAI_BASE_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"  # nothing listens there
    else:
        settings.EMBEDDING_TIMEOUT_SECONDS = 0.3
        openai_server.enqueue(Hang(5), path=EMBEDDINGS_PATH)

    response = ask(bearer_client(user), question="How do I dodge Malenia's Waterfowl Dance?")

    status, code = (503, "ai_unavailable") if failure == "refused" else (504, "ai_timeout")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert response.json()["error"]["details"] == {"stage": "embed"}
    assert response["X-Plan-Remaining"] == "30" and _used(user) == 0


def test_the_same_question_from_other_players_is_embedded_once(demo, openai_server):
    demo_load()  # the demo re-embedded through the server's model, as a deploy with a key would
    question = "How do I dodge Malenia's Waterfowl Dance?"

    def embeddings_requests() -> int:
        return sum(1 for request in openai_server.requests if request.path == EMBEDDINGS_PATH)

    first = ask(bearer_client(UserFactory()), question=question)
    sent = embeddings_requests()
    # the same question as the exact cache compares them, then in another semantic scope
    again = ask(bearer_client(UserFactory()), question="how do I dodge malenia's waterfowl dance")
    elsewhere = ask(bearer_client(UserFactory()), question=question, category="boss")

    assert [r.json()["cache"] for r in (first, again, elsewhere)] == ["none", "semantic", "none"]
    assert embeddings_requests() == sent  # neither was sent to the provider again
    assert [s["title"] for s in elsewhere.json()["sources"]] == [s["title"] for s in first.json()["sources"]]
    kept = redis_sync().get(question_vector_key(model_name=settings.EMBEDDING_MODEL, question=question))
    given = embedding_vector(question, settings.EMBEDDING_DIM)  # what the server sent, as float32
    assert array.array("f", kept).tolist() == array.array("f", given).tolist()


def test_offline_embeddings_are_not_kept(demo, auth_client):
    assert ask(auth_client).status_code == 200

    assert redis_sync().keys("gc:coach:qvec:*") == []  # they cost microseconds, not a call


def test_a_follow_up_in_a_conversation_carries_the_last_turns(demo, user, openai_server):
    demo_load()
    client = bearer_client(user)
    first = ask(client, question="How do I dodge Malenia's Waterfowl Dance?").json()

    follow = ask(client, question="And in phase two?", conversation_id=first["conversation_id"])

    assert follow.status_code == 200
    assert follow.json()["conversation_id"] == first["conversation_id"]
    sent = json.dumps(openai_server.chat_requests()[-1].messages, ensure_ascii=False)
    assert "Waterfowl Dance" in sent and openai_server.answer in sent


def test_an_answer_given_in_a_conversation_is_never_reused_outside_it(demo, user, auth_client):
    first = ask(auth_client, question="How do I dodge Malenia's Waterfowl Dance?").json()
    in_conversation = ask(auth_client, question="And in phase two?", conversation_id=first["conversation_id"])
    resent_there = ask(auth_client, question="And in phase two?", conversation_id=first["conversation_id"])

    asked_alone = ask(auth_client, question="And in phase two?")

    # "phase two" of what: only its conversation says, so neither the resend there nor the same words
    # in a new conversation get that answer from the exact cache; each is a question of its own
    assert [r.json()["cache"] for r in (in_conversation, resent_there, asked_alone)] == ["none", "none", "none"]
    assert _used(user) == 4


def test_someone_elses_conversation_is_a_404_and_costs_nothing(demo, user, auth_client):
    other = UserFactory()
    theirs = ask(bearer_client(other)).json()["conversation_id"]

    response = ask(auth_client, question="What about phase one?", conversation_id=theirs)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_conversation"
    assert response["X-Plan-Remaining"] == "30"
    assert _used(user) == 0
    assert not QuestionLog.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"game": "elden-ring", "question": "x" * 2001}, "question"),
        ({"game": "elden-ring", "question": "   "}, "question"),
        ({"game": "elden-ring", "question": "hi", "tags": "boss"}, "tags"),
        ({"game": "elden-ring", "question": "hi", "category": "c" * 51}, "category"),
        ({"question": "hi"}, "game"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_costs_nothing(demo, user, auth_client, body, field):
    response = auth_client.post(ASK, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert response["X-Plan-Remaining"] == "30"
    assert _used(user) == 0


def test_an_unknown_game_is_a_400_unknown_game(demo, auth_client):
    response = ask(auth_client, game="starcraft-9")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_game"


def test_anonymous_asks_are_refused_with_401(demo, api_client):
    response = ask(api_client)

    assert response.status_code == 401
    assert "error" in response.json()


def test_when_the_weeks_calls_are_used_up_the_answer_is_429_quota_exceeded(demo, user, auth_client):
    for number in range(30):
        assert ask(auth_client, question=f"Malenia tip number {number}?").status_code == 200

    response = ask(auth_client, question="One more Malenia question?")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert int(response["Retry-After"]) > 0
    assert response["X-Plan-Remaining"] == "0"
    assert QuestionLog.objects.filter(user=user).count() == 30
