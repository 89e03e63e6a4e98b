"""The games, read on every question, from a per-process copy of their table (a handful of rows).

The ask path checks the game on the event loop, so a database read there would cost a thread hop
per question for a table that changes a few times a year. The copy is read again after
GAME_CACHE_SECONDS, whenever a slug is not in it (a game just added shows up at once), and at once
in the process that saves or deletes a game; other processes see a renamed or removed game within
GAME_CACHE_SECONDS.

The categories and tags an ask may filter on (afilters_check) are a second copy, read only for asks
that filter, on the same terms: again after GAME_CACHE_SECONDS, at once in the process that saves a
game or a document, and when an ask names one it does not hold (at most once a
FILTERS_MISS_RELOAD_SECONDS, so a stream of wrong names costs no query each).
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError

from .models import Document, Game
from .selectors import UnknownGame

FILTERS_MISS_RELOAD_SECONDS = 1.0

_snapshot: tuple[float, dict[str, Game]] = (float("-inf"), {})
# game id -> (its categories: staff's order, then the ones only published documents use; their tags)
_filters: tuple[float, dict[int, tuple[tuple[str, ...], frozenset[str]]]] = (float("-inf"), {})


class UnknownCategory(ApplicationError):
    status = 400
    code = "unknown_category"
    message = _("This game has no such category.")


class UnknownTag(ApplicationError):
    status = 400
    code = "unknown_tag"
    message = _("No guide of this game has such a tag.")


def _games_load() -> dict[str, Game]:
    return {game.slug: game for game in Game.objects.all()}


def _fresh(slug: str) -> Game | None:
    loaded_at, games = _snapshot
    if time.monotonic() - loaded_at >= settings.GAME_CACHE_SECONDS:
        return None
    return games.get(slug)


async def agame_get(*, slug: str) -> Game:
    """The game with this slug, else 400 unknown_game (as knowledge.selectors.game_get)."""
    global _snapshot
    if not isinstance(slug, str):
        raise UnknownGame.for_slug(slug)
    game = _fresh(slug)
    if game is None:
        games = await sync_to_async(_games_load)()
        _snapshot = (time.monotonic(), games)
        game = games.get(slug)
    if game is None:
        raise UnknownGame.for_slug(slug)
    return game


def _filters_load() -> dict[int, tuple[tuple[str, ...], frozenset[str]]]:
    """Every game's categories (those staff set on it, then those its published documents use) and the
    tags its published documents use: one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT g.id, g.categories,
                   ARRAY(SELECT DISTINCT d.category FROM knowledge_document d
                         WHERE d.game_id = g.id AND d.status = %(published)s ORDER BY 1),
                   ARRAY(SELECT DISTINCT tag FROM knowledge_document d, unnest(d.tags) AS tag
                         WHERE d.game_id = g.id AND d.status = %(published)s)
            FROM knowledge_game g
            """,
            {"published": Document.Status.PUBLISHED},
        )
        return {
            game_id: (tuple(dict.fromkeys([*staff_set, *in_use])), frozenset(tags))
            for game_id, staff_set, in_use, tags in cursor.fetchall()
        }


def _filters_unknown(known: tuple[tuple[str, ...], frozenset[str]], category: str | None, tags: list[str]) -> bool:
    categories, known_tags = known
    return (category is not None and category not in categories) or any(tag not in known_tags for tag in tags)


async def afilters_check(*, game: Game, category: str | None, tags: list[str]) -> None:
    """400 unknown_category or unknown_tag unless the game offers them (what /api/games shows, plus the
    categories staff set on the game). No query while this process's copy is fresh."""
    global _filters
    if category is None and not tags:
        return
    loaded_at, filters = _filters
    age = time.monotonic() - loaded_at
    known = filters.get(game.pk)
    if (
        age >= settings.GAME_CACHE_SECONDS
        or known is None
        or (_filters_unknown(known, category, tags) and age >= FILTERS_MISS_RELOAD_SECONDS)
    ):
        filters = await sync_to_async(_filters_load)()
        _filters = (time.monotonic(), filters)
        known = filters.get(game.pk, ((), frozenset()))
    categories, known_tags = known
    if category is not None and category not in categories:
        raise UnknownCategory(
            _("%(game)s has no category '%(category)s'.") % {"game": game.slug, "category": category},
            details={"game": game.slug, "category": category, "categories": list(categories)},
        )
    unknown = [tag for tag in tags if tag not in known_tags]
    if unknown:
        raise UnknownTag(
            _("No guide of %(game)s has the tag(s) %(tags)s.") % {"game": game.slug, "tags": ", ".join(unknown)},
            details={"game": game.slug, "tags": unknown},
        )


@receiver(post_save, sender=Game, dispatch_uid="knowledge_games_changed_save")
@receiver(post_delete, sender=Game, dispatch_uid="knowledge_games_changed_delete")
def games_forget(**kwargs) -> None:
    """Drop this process's copies (a game was saved or deleted, or a test rolled its games back)."""
    global _snapshot
    _snapshot = (float("-inf"), {})
    filters_forget()


@receiver(post_save, sender=Document, dispatch_uid="knowledge_filters_changed_save")
@receiver(post_delete, sender=Document, dispatch_uid="knowledge_filters_changed_delete")
def filters_forget(**kwargs) -> None:
    """Drop this process's copy of the categories and tags (a document was saved or deleted)."""
    global _filters
    _filters = (float("-inf"), {})
