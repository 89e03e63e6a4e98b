"""knowledge.games: the ask path's per-process copy of the games table."""

import pytest
from asgiref.sync import async_to_sync

from config.errors import ApplicationError
from knowledge.games import agame_get
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
