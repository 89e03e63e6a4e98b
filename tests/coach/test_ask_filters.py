"""An ask's category and tags are the game's (issue 24): anything else is a 400 that costs no call."""

import pytest

from billing.models import CallRecord, UsageCounter
from coach.models import QuestionLog
from knowledge import games
from knowledge.models import Document, Game
from knowledge.services.documents import document_create
from tests.coach.conftest import ask

pytestmark = pytest.mark.django_db


def _used(user) -> int:
    row = UsageCounter.objects.filter(user=user, period="week").first()
    return row.used if row else 0


def _nothing_spent(response, user) -> None:
    assert response["X-Plan-Remaining"] == "30"
    assert _used(user) == 0
    assert not QuestionLog.objects.filter(user=user).exists()
    assert not CallRecord.objects.filter(user=user).exists()


def test_an_unknown_category_is_a_400_naming_the_game_s_categories_and_costs_nothing(demo, user, auth_client):
    response = ask(auth_client, category="bosses")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "unknown_category",
        "message": "elden-ring has no category 'bosses'.",
        "details": {"game": "elden-ring", "category": "bosses", "categories": ["boss", "build"]},
    }
    _nothing_spent(response, user)


def test_another_game_s_category_is_refused_too(demo, user, auth_client):
    response = ask(auth_client, category="jungle")  # League of Legends has it, Elden Ring does not

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_category"
    _nothing_spent(response, user)


def test_unknown_tags_are_a_400_naming_them_and_cost_nothing(demo, user, auth_client):
    response = ask(auth_client, category="boss", tags=["malenia", "melania", "smite"])

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("unknown_tag", {"game": "elden-ring", "tags": ["melania", "smite"]})
    _nothing_spent(response, user)


def test_the_game_s_own_category_and_tags_are_answered(demo, user, auth_client):
    response = ask(auth_client, category="boss", tags=["malenia"])

    assert response.status_code == 200, response.json()
    assert response.json()["sources"][0]["title"] == "말레니아 2페이즈 공략: 부패의 여신"
    assert _used(user) == 1


def test_a_category_staff_set_before_any_guide_uses_it_is_accepted(demo, user, auth_client):
    # "build" is one of Elden Ring's categories; no published demo guide is in it
    assert not Document.objects.filter(game__slug="elden-ring", category="build").exists()

    response = ask(auth_client, category="build")

    assert response.status_code == 200


def test_a_tag_published_by_another_process_is_accepted_at_once(demo, user, auth_client, monkeypatch):
    monkeypatch.setattr(games, "FILTERS_MISS_RELOAD_SECONDS", 0)  # not rate-limited here (see test_games)
    assert ask(auth_client, category="boss", tags=["malenia"]).status_code == 200  # the copy is read
    # another process (no signal reaches this one) tags a published guide and files it under a new category
    Document.objects.filter(title="말레니아 2페이즈 공략: 부패의 여신").update(
        category="shardbearer", tags=["scarlet-rot"]
    )

    response = ask(auth_client, category="shardbearer", tags=["scarlet-rot"])

    assert response.status_code == 200, response.json()


def test_a_draft_s_tag_is_not_offered_so_it_is_refused(demo, user, auth_client):
    game = Game.objects.get(slug="elden-ring")
    document_create(game=game, title="Draft", content="Work in progress.", category="boss", tags=["wip"])

    response = ask(auth_client, category="boss", tags=["wip"])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_tag"
