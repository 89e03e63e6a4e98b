"""The game entities: the shipped catalogue (knowledge/catalogue/<slug>.json) loaded as rows, and staff's
edits, which loading leaves alone."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Entity, Game

logger = logging.getLogger(__name__)

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "catalogue"
_CATALOGUE_FIELDS = ("kind", "name_en", "name_ko", "aliases")


class CatalogueError(ValueError):
    """A catalogue file that cannot be loaded, or a game without one."""


@dataclass
class CatalogueLoadResult:
    game: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # keys staff edited: left as they are
    removed: int = 0  # catalogue rows no longer in the file


def entities_changed(*, game: str) -> None:
    """Say that a game's entities or glossary changed: this process drops its copy of the index now,
    and every process rebuilds once the transaction commits (a new version token in the cache)."""
    from ..selectors import entity_index_version_key, entity_indexes_forget

    def bump() -> None:
        entity_indexes_forget(game)
        try:
            cache.set(entity_index_version_key(game), uuid.uuid4().hex, timeout=None)
        except Exception as exc:  # other processes pick the edit up within ENTITY_INDEX_MAX_SECONDS
            logger.warning("entity index: version of %s not bumped (%s: %s)", game, type(exc).__name__, exc)

    entity_indexes_forget(game)
    transaction.on_commit(bump)


def catalogue_games() -> list[str]:
    """The games with a shipped catalogue (knowledge/catalogue/<slug>.json)."""
    return sorted(path.stem for path in CATALOGUE_DIR.glob("*.json"))


def catalogue_read(*, game: str) -> list[Entity]:
    """The shipped entities of a game, checked (unsaved, without their game)."""
    path = CATALOGUE_DIR / f"{game}.json"
    if not path.exists():
        raise CatalogueError(f"no catalogue for '{game}' (knowledge/catalogue/{game}.json)")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path.name}: {exc}") from exc
    entities, seen = [], set()
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("aliases", []), list):
            raise CatalogueError(f"{path.name} entry {number}: an object with a list of aliases expected")
        entity = Entity(key=item.get("id", ""), kind=item.get("kind", ""), name_en=item.get("en", ""),
                        name_ko=item.get("ko", ""), aliases=list(dict.fromkeys(item.get("aliases", []))),
                        source=Entity.Source.CATALOGUE)  # fmt: skip
        try:
            entity.clean_fields(exclude=["game"])  # no queries: the file is checked as a whole below
        except ValidationError as exc:
            raise CatalogueError(f"{path.name} entry {number} ({entity.key or '?'}): {exc.messages}") from exc
        if not (entity.name_en or entity.name_ko):
            raise CatalogueError(f"{path.name} entry {number} ({entity.key}): neither an English nor a Korean name")
        if entity.key in seen:
            raise CatalogueError(f"{path.name}: id '{entity.key}' twice")
        seen.add(entity.key)
        entities.append(entity)
    return entities


def catalogue_load(*, game: str | None = None) -> list[CatalogueLoadResult]:
    """Write the shipped catalogue of one game (or of every game that has one and exists) as entities.

    Idempotent. A row staff edited (source staff) is left as it is, whatever the file says; catalogue
    rows the file no longer has are removed; rows of other sources are never touched.
    """
    if game is not None:
        if not Game.objects.filter(slug=game).exists():
            raise CatalogueError(f"unknown game '{game}'")
        slugs = [game]
    else:
        slugs = list(Game.objects.filter(slug__in=catalogue_games()).order_by("slug").values_list("slug", flat=True))
    return [_catalogue_load_game(game=Game.objects.get(slug=slug)) for slug in slugs]


def _catalogue_load_game(*, game: Game) -> CatalogueLoadResult:
    shipped = catalogue_read(game=game.slug)
    result = CatalogueLoadResult(game=game.slug)
    with transaction.atomic():
        existing = {entity.key: entity for entity in Entity.objects.select_for_update().filter(game=game)}
        new, changed = [], []
        for entity in shipped:
            current = existing.get(entity.key)
            if current is None:
                entity.game = game
                new.append(entity)
            elif current.source != Entity.Source.CATALOGUE:
                result.kept.append(entity.key)
            elif any(getattr(current, name) != getattr(entity, name) for name in _CATALOGUE_FIELDS):
                for name in _CATALOGUE_FIELDS:
                    setattr(current, name, getattr(entity, name))
                current.updated_at = timezone.now()
                changed.append(current)
            else:
                result.unchanged += 1
        Entity.objects.bulk_create(new)
        Entity.objects.bulk_update(changed, [*_CATALOGUE_FIELDS, "updated_at"])
        gone = {entity.key for entity in shipped}
        result.removed, _ = (
            Entity.objects.filter(game=game, source=Entity.Source.CATALOGUE).exclude(key__in=gone).delete()
        )
        result.created, result.updated = len(new), len(changed)
        if new or changed or result.removed:
            entities_changed(game=game.slug)
    return result


def entity_staff_save(*, entity: Entity) -> Entity:
    """Save an entity as staff edited it: it becomes theirs (source staff), so loading the catalogue
    leaves it alone from now on."""
    entity.source = Entity.Source.STAFF
    entity.aliases = [alias.strip() for alias in dict.fromkeys(entity.aliases) if alias.strip()]
    entity.full_clean()
    entity.save()
    entities_changed(game=entity.game.slug)
    return entity
