"""Writes on games: create or rename one; the categories its documents use are added as they come."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Func, Value

from ..models import Game


def game_create_or_update(*, slug: str, name_ko: str, name_en: str, categories: Iterable[str] = ()) -> Game:
    """Create the game, or rename it and add categories after the ones it has; checked before it is saved."""
    game = Game.objects.filter(slug=slug).first() or Game(slug=slug)
    wanted = list(dict.fromkeys([*game.categories, *(c.strip() for c in categories if c.strip())]))
    if game.pk is None or (game.name_ko, game.name_en, game.categories) != (name_ko, name_en, wanted):
        game.name_ko, game.name_en, game.categories = name_ko, name_en, wanted
        game.full_clean()
        game.save()
    return game


def _game_category_add(*, game: Game, category: str) -> None:
    # Keeps "categories in use" complete without reordering what staff arranged.
    field = Game._meta.get_field("categories")
    append = Func(F("categories"), Value(category), function="array_append", output_field=field)
    Game.objects.filter(pk=game.pk).exclude(categories__contains=[category]).update(categories=append)
