"""Reads of the knowledge base: games and their pickers, glossaries, the entity index. The vector search over
chunks is knowledge.search."""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError

from .entities import EntityIndex
from .models import Document, Entity, Game, GlossaryTerm

logger = logging.getLogger(__name__)


class UnknownGame(ApplicationError):
    status = 400
    code = "unknown_game"
    message = _("No such game.")

    @classmethod
    def for_slug(cls, slug: str) -> UnknownGame:
        return cls(_("No game '%(slug)s'.") % {"slug": slug}, details={"game": slug})


def game_get(*, slug: str) -> Game:
    game = Game.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if game is None:
        raise UnknownGame.for_slug(slug)
    return game


def glossary_terms(*, game: str) -> list[str]:
    """The game's active entity names (bosses, champions, items), for the semantic cache's guard."""
    return list(
        GlossaryTerm.objects.filter(game__slug=game, is_active=True).order_by("term").values_list("term", flat=True)
    )


# --- the entity index ----------------------------------------------------------------------------
# Per process and game: (built at, next look at, the version it was built at, the index). The version
# is a token in the cache that every write of entities or glossary terms replaces
# (services.catalogue.entities_changed); the process that writes drops its copy at once, others read the token
# again ENTITY_INDEX_CHECK_SECONDS after their last look (one Redis GET, not a rebuild) and rebuild at
# the latest after ENTITY_INDEX_MAX_SECONDS (the token may be lost with Redis). With Redis down they
# look again after a minute, so the outage costs one timeout a minute, not one a question.
_entity_indexes: dict[str, tuple[float, float, str | None, EntityIndex]] = {}
_SOURCE_ORDER = {Entity.Source.STAFF: 0, Entity.Source.CATALOGUE: 1, Entity.Source.INGESTION: 2}
_VERSION_UNREADABLE_WAIT = 60.0


def entity_index_version_key(game: str) -> str:
    return f"knowledge:entities:version:{game}"


def entity_index_build(*, game: str) -> EntityIndex:
    """The game's active entities (staff's rows first, so their spellings win a clash) and its active
    glossary terms that no entity spells, each term as a one-name entity of kind "term"."""
    fields = ("key", "kind", "name_en", "name_ko", "aliases", "source", "is_active")
    entities = sorted(
        Entity.objects.filter(game__slug=game).values_list(*fields),
        key=lambda row: (_SOURCE_ORDER.get(row[5], 3), row[0]),
    )
    rows = [(key, kind, [n for n in (en, ko, *aliases) if n]) for key, kind, en, ko, aliases, _, active in entities
            if active]  # fmt: skip
    # A term that an entity spells, active or switched off by staff, is that entity's business.
    spelled = {" ".join(n.lower().split()) for _, _, en, ko, aliases, _, _ in entities for n in (en, ko, *aliases)}
    rows += [
        (f"glossary:{term}", Entity.Kind.TERM.value, [term])
        for term in glossary_terms(game=game)
        if " ".join(term.lower().split()) not in spelled
    ]
    return EntityIndex.build(rows)


def entity_index(game: str) -> EntityIndex:
    """The game's entity index (names of its entities and glossary terms), kept per process; an unknown
    game has an empty one. Cheap on every ask: a dict read, and a cache read every few seconds."""
    now = time.monotonic()
    entry = _entity_indexes.get(game)
    if entry is not None and now < entry[1]:
        return entry[3]
    next_look = now + settings.ENTITY_INDEX_CHECK_SECONDS
    try:
        version = cache.get(entity_index_version_key(game))
    except Exception as exc:  # Redis down: keep what we have until it is too old
        logger.warning("entity index: version of %s unreadable (%s: %s)", game, type(exc).__name__, exc)
        version = entry[2] if entry is not None else None
        next_look = now + max(settings.ENTITY_INDEX_CHECK_SECONDS, _VERSION_UNREADABLE_WAIT)
    if entry is not None and version == entry[2] and now - entry[0] < settings.ENTITY_INDEX_MAX_SECONDS:
        _entity_indexes[game] = (entry[0], next_look, version, entry[3])
        return entry[3]
    index = entity_index_build(game=game)
    _entity_indexes[game] = (now, next_look, version, index)
    return index


async def aentity_index(game: str) -> EntityIndex:
    """entity_index for the event loop: no thread hop while this process's copy is fresh."""
    entry = _entity_indexes.get(game)
    if entry is not None and time.monotonic() < entry[1]:
        return entry[3]
    return await sync_to_async(entity_index)(game)


def entity_indexes_forget(game: str | None = None) -> None:
    """Drop this process's copy of one game's index (or all): the next read rebuilds it."""
    if game is None:
        _entity_indexes.clear()
    else:
        _entity_indexes.pop(game, None)


def games_with_pickers() -> list[dict[str, Any]]:
    """Every game with the categories and tags its published documents use (two queries in all).

    Categories keep the order staff gave them on the game; ones only documents know come after.
    """
    in_use: dict[int, tuple[set[str], set[str]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT game_id, array_agg(DISTINCT category),
                   array_remove(array_agg(DISTINCT tag), NULL)
            FROM knowledge_document LEFT JOIN LATERAL unnest(tags) AS tag ON true
            WHERE status = %s GROUP BY game_id
            """,
            [Document.Status.PUBLISHED],
        )
        for game_id, categories, tags in cursor.fetchall():
            in_use[game_id] = (set(categories), set(tags))
    games = []
    for game in Game.objects.order_by("slug"):
        categories, tags = in_use.get(game.pk, (set(), set()))
        ordered = [c for c in game.categories if c in categories] + sorted(categories - set(game.categories))
        games.append(
            {
                "slug": game.slug,
                "name_ko": game.name_ko,
                "name_en": game.name_en,
                "categories": ordered,
                "tags": sorted(tags),
            }
        )
    return games
