"""The plan's calls through POST /api/coach/ask: who is refused, what a question costs, and when.

The pipeline (coach.services.ask) reads the exact cache first: a hit reads the player and writes its
log row, reserving nothing; anything else is embedded and looked up in the semantic cache, then
admitted, which reserves one call of the plan, with the semantic hit's log row or the miss's retrieval.
"""

import threading

import pytest
from django.db import connection

from billing.models import CallRecord, Subscription, UsageCounter
from billing.selectors import usage_summary
from billing.services import quota_reserve
from coach.models import QuestionLog
from dev.demo.loader import demo_load
from tests.coach.conftest import ASK, MALENIA, ask
from tests.conftest import bearer_client
from tests.factories import UserFactory
from tests.servers.openai_server import EMBEDDINGS_PATH, Malformed

pytestmark = pytest.mark.django_db


def _spend(user, calls: int) -> None:
    for _ in range(calls):
        quota_reserve(user=user)


def test_each_answer_says_the_calls_left(demo, user, auth_client):
    assert ask(auth_client)["X-Plan-Remaining"] == "29"
    assert ask(auth_client, question="Malenia phase one?")["X-Plan-Remaining"] == "28"
    assert usage_summary(user=user)["used"] == 2


def test_a_resend_from_the_exact_cache_reserves_nothing(demo, user, auth_client):
    ask(auth_client)

    again = ask(auth_client)

    assert (again.json()["cache"], again["X-Plan-Remaining"]) == ("exact", "29")
    # one call reserved in all: the resend neither reserved nor gave one back
    assert list(CallRecord.objects.filter(user=user).values_list("released_at", flat=True)) == [None]


def test_a_player_out_of_calls_still_gets_the_resend_of_an_answer_they_paid_for(demo, user, auth_client):
    paid = ask(auth_client).json()
    _spend(user, 29)

    resent = ask(auth_client)
    new = ask(auth_client, question="Malenia phase one?")

    assert (resent.status_code, resent.json()["cache"], resent["X-Plan-Remaining"]) == (200, "exact", "0")
    assert resent.json()["answer"] == paid["answer"]
    assert (new.status_code, new.json()["error"]["code"], new["X-Plan-Remaining"]) == (429, "quota_exceeded", "0")
    assert usage_summary(user=user)["used"] == 30


def test_a_refused_question_leaves_no_trace_but_the_refusal(demo, user, auth_client):
    _spend(user, 30)

    response = ask(auth_client)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["details"]["resets_at"] == usage_summary(user=user)["resets_at"]
    assert not QuestionLog.objects.filter(user=user).exists()
    assert CallRecord.objects.filter(user=user).count() == 30


def test_a_player_out_of_calls_gets_no_answer_another_player_paid_for(demo, user, auth_client):
    ask(auth_client)  # in the semantic cache now
    other = UserFactory()
    client = bearer_client(other)
    _spend(other, 30)

    refused = ask(client)
    again = ask(client)  # and the refused answer was not kept for a free resend either

    assert (refused.status_code, refused.json()["error"]["code"], refused["X-Plan-Remaining"]) == (
        429, "quota_exceeded", "0")  # fmt: skip
    assert (again.status_code, again.json()["error"]["code"]) == (429, "quota_exceeded")
    assert not QuestionLog.objects.filter(user=other).exists()
    assert usage_summary(user=other)["used"] == 30


def test_an_upgrade_shows_in_the_next_answer(demo, user, auth_client):
    _spend(user, 30)
    assert ask(auth_client).status_code == 429

    Subscription.objects.create(user=user, plan="basic")
    answered = ask(auth_client)

    assert answered.status_code == 200
    assert answered["X-Plan-Remaining"] == str(200 - 31)
    assert QuestionLog.objects.get(user=user).plan == "basic"


@pytest.mark.parametrize("body", [{"game": "elden-ring", "question": MALENIA}, {"question": ""}, {}])
@pytest.mark.parametrize("who", ["inactive", "deleted"])
def test_a_deactivated_or_deleted_players_token_is_401_whatever_the_body(demo, api_client, who, body):
    user = UserFactory()
    client = bearer_client(user)
    if who == "inactive":
        user.is_active = False
        user.save()
    else:
        user.delete()

    response = client.post(ASK, body, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == {"inactive": "user_inactive", "deleted": "user_not_found"}[who]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "X-Plan-Remaining" not in response
    assert not UsageCounter.objects.exists()


def test_a_deleted_players_question_the_provider_could_not_embed_is_401_not_503(demo, openai_server):
    user = UserFactory()
    client = bearer_client(user)
    user.delete()
    openai_server.enqueue(Malformed(), path=EMBEDDINGS_PATH)  # the embedding comes before admission

    response = client.post(ASK, {"game": "elden-ring", "question": MALENIA}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (401, "user_not_found")
    assert "X-Plan-Remaining" not in response
    assert not QuestionLog.objects.exists() and not UsageCounter.objects.exists()


@pytest.mark.parametrize("authorization", ["", "Bearer not-a-jwt", "Token abc", "Bearer a b"])
def test_a_question_without_a_valid_token_is_401_and_costs_nothing(demo, user, api_client, authorization):
    response = api_client.post(ASK, {"game": "elden-ring", "question": MALENIA}, format="json",
                               HTTP_AUTHORIZATION=authorization)  # fmt: skip

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "token_not_valid", "bad_authorization_header"}
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not QuestionLog.objects.exists() and usage_summary(user=user)["used"] == 0


@pytest.mark.django_db(transaction=True)
def test_simultaneous_questions_get_exactly_the_calls_left_and_resends_need_none():
    demo_load()
    user = UserFactory()
    paid = ask(bearer_client(user), question="Malenia phase one?")
    assert paid.status_code == 200
    _spend(user, 26)  # 3 calls left
    results, barrier = [], threading.Barrier(12)

    def question(text):
        client = bearer_client(user)
        barrier.wait(timeout=30)
        response = ask(client, question=text)
        results.append((text, response.status_code, response.json().get("cache")))
        connection.close()

    texts = [f"Malenia tip {n}?" for n in range(10)] + ["Malenia phase one?"] * 2
    threads = [threading.Thread(target=question, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    new = sorted(status for text, status, _ in results if text.startswith("Malenia tip"))
    resends = [(status, cache) for text, status, cache in results if text == "Malenia phase one?"]
    assert new == [200] * 3 + [429] * 7
    assert resends == [(200, "exact")] * 2
    assert usage_summary(user=user)["used"] == 30
    assert QuestionLog.objects.filter(user=user).count() == 1 + 3 + 2
