"""Games: the ask path's per-process copy of the table (knowledge.games), `manage.py game`, the admin."""

import io

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.test import Client

from config.errors import ApplicationError
from knowledge.games import UnknownCategory, UnknownTag, afilters_check, agame_get
from knowledge.models import Game


def game(slug: str) -> Game:
    return async_to_sync(agame_get)(slug=slug)


@pytest.mark.django_db
def test_a_game_added_after_the_copy_was_read_is_found_at_once():
    Game.objects.create(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring")
    assert game("elden-ring").name_en == "Elden Ring"
    # added without signals, as another process's insert looks from here
    Game.objects.bulk_create([Game(slug="lol", name_ko="리그 오브 레전드", name_en="League of Legends")])

    assert game("lol").name_ko == "리그 오브 레전드"


@pytest.mark.django_db
def test_a_change_made_by_another_process_shows_within_game_cache_seconds(settings, django_assert_num_queries):
    settings.GAME_CACHE_SECONDS = 30
    row = Game.objects.create(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring")
    game("elden-ring")
    Game.objects.filter(pk=row.pk).update(name_en="ELDEN RING")  # no signal: another process

    with django_assert_num_queries(0):
        assert game("elden-ring").name_en == "Elden Ring"
    settings.GAME_CACHE_SECONDS = 0
    assert game("elden-ring").name_en == "ELDEN RING"


@pytest.mark.django_db
def test_a_game_saved_or_deleted_in_this_process_is_seen_at_once(settings):
    settings.GAME_CACHE_SECONDS = 3600
    row = Game.objects.create(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring")
    game("elden-ring")

    row.name_en = "Elden Ring: Nightreign"
    row.save()
    assert game("elden-ring").name_en == "Elden Ring: Nightreign"

    row.delete()
    with pytest.raises(ApplicationError) as unknown:
        game("elden-ring")
    assert (unknown.value.status, unknown.value.code) == (400, "unknown_game")


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["no-such-game", 42, None])
def test_anything_but_a_known_slug_is_unknown_game(slug):
    Game.objects.create(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring")
    with pytest.raises(ApplicationError) as unknown:
        game(slug)
    assert unknown.value.code == "unknown_game"
    assert unknown.value.details == {"game": slug}


# --- creating and editing games: the command and the admin (issue 24) -----------------------------
def run_game(*args) -> str:
    out = io.StringIO()
    call_command("game", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_game_command_creates_a_game_players_can_pick(auth_client):
    out = run_game("valorant", "--ko", "발로란트", "--en", "Valorant", "--categories", "agent, map")
    assert out.strip() == "created valorant: 발로란트 / Valorant; categories: agent, map"
    games = auth_client.get("/api/games").json()["games"]
    assert [(g["slug"], g["name_ko"], g["name_en"]) for g in games] == [("valorant", "발로란트", "Valorant")]


@pytest.mark.django_db
def test_the_game_command_updates_names_and_adds_categories_after_the_existing_ones():
    run_game("valorant", "--ko", "발로란트", "--en", "Valorant", "--categories", "agent,map")
    out = run_game("valorant", "--en", "VALORANT", "--categories", "map,economy")
    assert out.strip() == "updated valorant: 발로란트 / VALORANT; categories: agent, map, economy"
    assert Game.objects.count() == 1
    assert run_game().strip() == "valorant: 발로란트 / VALORANT; categories: agent, map, economy"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Elden Ring", "--ko", "엘든 링", "--en", "Elden Ring"), "game 'Elden Ring' not saved: slug:"),
        (("elden-ring", "--en", "Elden Ring"), "a new game needs both names: manage.py game elden-ring --ko"),
        (("elden-ring", "--ko", "엘든 링", "--en", "Elden Ring", "--categories", "b" * 51), "categories"),
    ],
)
def test_the_game_command_refuses_what_players_could_not_use(args, message):
    with pytest.raises(CommandError) as refused:
        run_game(*args)
    assert message in str(refused.value)
    assert not Game.objects.exists()


@pytest.mark.django_db
def test_staff_create_and_rename_a_game_in_the_admin(staff_user):
    client = Client()
    client.force_login(staff_user)
    form = {"slug": "tft", "name_ko": "전략적 팀 전투", "name_en": "Teamfight Tactics", "categories": "comp,augment"}
    response = client.post("/admin/knowledge/game/add/", form)
    assert response.status_code == 302, response.content[:500]
    created = Game.objects.get(slug="tft")
    assert (created.name_ko, created.categories) == ("전략적 팀 전투", ["comp", "augment"])
    response = client.post(f"/admin/knowledge/game/{created.pk}/change/", {**form, "name_en": "TFT"})
    assert response.status_code == 302
    assert game("tft").name_en == "TFT"  # the ask path's copy sees the rename at once


# --- the categories and tags an ask may filter on (issue 24) --------------------------------------
def check(game_row, category=None, tags=()):
    async_to_sync(afilters_check)(game=game_row, category=category, tags=list(tags))


@pytest.mark.django_db
def test_filters_are_checked_from_the_copy_and_a_stream_of_wrong_ones_costs_no_query_each(
    make_document, elden_ring, django_assert_num_queries
):
    make_document(category="boss", tags=["malenia"])
    with django_assert_num_queries(1):
        check(elden_ring, "boss", ["malenia"])  # the copy is read once
    with django_assert_num_queries(0):
        check(elden_ring, "build")  # staff set it on the game
        check(elden_ring)
        for _ in range(50):
            with pytest.raises(UnknownCategory):
                check(elden_ring, "bosses")  # read again at most once a FILTERS_MISS_RELOAD_SECONDS
            with pytest.raises(UnknownTag):
                check(elden_ring, "boss", ["melania"])


@pytest.mark.django_db
def test_a_document_saved_in_this_process_is_seen_at_once(make_document, elden_ring):
    make_document(category="boss", tags=["malenia"])
    check(elden_ring, "boss", ["malenia"])
    make_document(category="lore", tags=["marika"])
    check(elden_ring, "lore", ["marika"])
