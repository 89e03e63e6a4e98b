"""The games, read on every question, from a per-process copy of their table (a handful of rows).

The ask path checks the game on the event loop, so a database read there would cost a thread hop
per question for a table that changes a few times a year. The copy is read again after
GAME_CACHE_SECONDS, whenever a slug is not in it (a game just added shows up at once), and at once
in the process that saves or deletes a game; other processes see a renamed or removed game within
GAME_CACHE_SECONDS.
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Game
from .selectors import UnknownGame

_snapshot: tuple[float, dict[str, Game]] = (float("-inf"), {})


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


@receiver(post_save, sender=Game, dispatch_uid="knowledge_games_changed_save")
@receiver(post_delete, sender=Game, dispatch_uid="knowledge_games_changed_delete")
def games_forget(**kwargs) -> None:
    """Drop this process's copy (a game was saved or deleted, or a test rolled its games back)."""
    global _snapshot
    _snapshot = (float("-inf"), {})
