"""History and feedback: each player sees and rates only their own answers; a down-vote evicts the answer."""

import uuid

import pytest
from asgiref.sync import async_to_sync

from ai.embeddings import get_embedder
from coach.models import Feedback, QuestionLog
from coach.services.cache import asemantic_cache_lookup
from tests.coach.conftest import ask
from tests.conftest import bearer_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _ask(client, question, **extra):
    response = ask(client, question, **extra)
    assert response.status_code == 200, response.content
    return response.json()


def test_history_lists_the_players_answers_newest_first_with_a_cursor(demo, auth_client):
    asked = [_ask(auth_client, f"Malenia question {n}?")["id"] for n in range(3)]

    first = auth_client.get("/api/coach/history", {"page_size": 2}).json()
    second = auth_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"]] == [asked[2], asked[1]]
    assert [item["id"] for item in second["results"]] == [asked[0]]
    assert second["next"] is None


def test_history_filters_by_game_and_by_conversation(demo, auth_client):
    elden = _ask(auth_client, "How do I beat Malenia?")
    follow = _ask(auth_client, "And her second phase?", conversation_id=elden["conversation_id"])
    lol = _ask(auth_client, "Best jungle path this patch?", game="league-of-legends")

    by_game = auth_client.get("/api/coach/history", {"game": "league-of-legends"}).json()["results"]
    by_conversation = auth_client.get("/api/coach/history", {"conversation_id": elden["conversation_id"]}).json()

    assert [item["id"] for item in by_game] == [lol["id"]]
    assert [item["id"] for item in by_conversation["results"]] == [follow["id"], elden["id"]]


def test_a_bad_conversation_filter_is_a_400(demo, auth_client):
    response = auth_client.get("/api/coach/history", {"conversation_id": "not-a-uuid"})

    assert response.status_code == 400
    assert "conversation_id" in response.json()["error"]["details"]["fields"]


def test_nobody_reads_or_rates_another_players_answer(demo, auth_client):
    theirs = _ask(bearer_client(UserFactory()), "How do I beat Malenia?")

    assert auth_client.get(f"/api/coach/history/{theirs['id']}").status_code == 404
    rated = auth_client.post(f"/api/coach/answers/{theirs['id']}/feedback", {"rating": "down"}, format="json")
    assert rated.status_code == 404
    assert auth_client.get("/api/coach/history").json()["results"] == []
    assert not Feedback.objects.exists()


def test_an_unknown_answer_id_is_a_404_in_the_error_shape(demo, auth_client):
    response = auth_client.get(f"/api/coach/history/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_rating_an_answer_records_it_once_and_can_change_it(demo, auth_client):
    answer = _ask(auth_client, "How do I beat Malenia?")
    url = f"/api/coach/answers/{answer['id']}/feedback"

    assert auth_client.post(url, {"rating": "up"}, format="json").status_code == 200
    changed = auth_client.post(url, {"rating": "down", "comment": "wrong phase"}, format="json")

    assert changed.json() == {"answer_id": answer["id"], "rating": "down", "comment": "wrong phase"}
    assert Feedback.objects.get().rating == "down"
    assert auth_client.get(f"/api/coach/history/{answer['id']}").json()["rating"] == "down"


def test_a_bad_rating_is_a_400(demo, auth_client):
    answer = _ask(auth_client, "How do I beat Malenia?")

    response = auth_client.post(f"/api/coach/answers/{answer['id']}/feedback", {"rating": "meh"}, format="json")

    assert response.status_code == 400
    assert "rating" in response.json()["error"]["details"]["fields"]


def test_a_down_voted_answer_is_no_longer_served_from_the_semantic_cache(
    demo, auth_client, django_capture_on_commit_callbacks
):
    answer = _ask(auth_client, "How do I beat Malenia?")
    other = bearer_client(UserFactory())
    assert _ask(other, "How do I beat Malenia?")["cache"] == "semantic"

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(f"/api/coach/answers/{answer['id']}/feedback", {"rating": "down"}, format="json")

    third = bearer_client(UserFactory())
    assert _ask(third, "How do I beat Malenia?")["cache"] == "none"


def test_down_voting_an_answer_served_from_the_semantic_cache_evicts_its_entry(
    demo, auth_client, django_capture_on_commit_callbacks
):
    original = _ask(auth_client, "How do I beat Malenia?")
    other = bearer_client(UserFactory())
    served = _ask(other, "How do I beat Malenia?")
    assert served["cache"] == "semantic"
    # the entry is left as it was: serving it again and again does not grow it
    log = QuestionLog.objects.get(pk=served["id"])
    embedder = get_embedder()
    hit = async_to_sync(asemantic_cache_lookup)(game="elden-ring", question="How do I beat Malenia?",
                                                embedding=embedder.embed(["How do I beat Malenia?"])[0],
                                                model_name=embedder.model_name)  # fmt: skip
    assert hit.entry_id == log.semantic_entry and hit.answer_ids == (original["id"],)

    with django_capture_on_commit_callbacks(execute=True):
        response = other.post(f"/api/coach/answers/{served['id']}/feedback", {"rating": "down"}, format="json")
    assert response.status_code in (200, 201), response.content

    third = bearer_client(UserFactory())
    assert _ask(third, "How do I beat Malenia?")["cache"] == "none"


def test_rows_written_without_the_semantic_entry_column_get_an_empty_one(db):
    # code from before the column (a rolling deploy) and bulk inserts leave it out: the database fills it
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_default, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'coach_questionlog' AND column_name = 'semantic_entry'"
        )
        default, nullable = cursor.fetchone()
    assert default.startswith("''") and nullable == "NO"
