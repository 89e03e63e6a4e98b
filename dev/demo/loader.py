"""The demo games and documents: loaded embedded inline so the README's questions work at once, and taken out
again before real content goes in (demo_remove); both idempotent."""

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from knowledge import chunking
from knowledge.ingestion.sources import read_file
from knowledge.models import Document, Game, GlossaryTerm
from knowledge.services.catalogue import catalogue_load
from knowledge.services.documents import document_delete, document_ingest, documents_reembed_stale
from knowledge.services.games import game_create_or_update
from knowledge.services.glossary import glossary_seed

DEMO_DIR = Path(__file__).resolve().parent


class GameSpec(TypedDict):
    slug: str
    name_ko: str
    name_en: str
    categories: list[str]


GAMES: list[GameSpec] = [
    {"slug": "elden-ring", "name_ko": "엘든 링", "name_en": "Elden Ring", "categories": ["boss", "build"]},
    {
        "slug": "league-of-legends",
        "name_ko": "리그 오브 레전드",
        "name_en": "League of Legends",
        "categories": ["jungle", "patch", "champion"],
    },
]
# (game, file, category, tags, source kind); jsonl lines carry their own category, tags and kind.
DOCUMENTS = [
    ("elden-ring", "elden-ring/malenia-phase-2.md", "boss", ["malenia", "phase-2"], "guide"),
    ("elden-ring", "elden-ring/malenia-phase-1-video.srt", "boss", ["malenia"], "video_subtitles"),
    ("elden-ring", "elden-ring/radahn-festival-guide.md", "boss", ["radahn"], "guide"),
    ("league-of-legends", "league-of-legends/jungle-path-patch.md", "jungle", ["jungle-path"], "guide"),
    ("league-of-legends", "league-of-legends/patch-notes-ko.md", "patch", ["jungle-path"], "patch_note"),
    ("league-of-legends", "league-of-legends/faq.jsonl", "jungle", [], "faq"),
]
# Titles for files that carry none of their own (a subtitle file's first caption is a greeting).
TITLES = {"elden-ring/malenia-phase-1-video.srt": "말레니아 1페이즈 영상 공략"}


def demo_load() -> dict[str, int]:
    """Create the demo games and ingest the demo documents (published); returns outcome counts."""
    games = {spec["slug"]: game_create_or_update(**spec) for spec in GAMES}
    for slug in games:
        catalogue_load(game=slug)  # the names questions use, however often the guides say them
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    for slug, name, category, tags, source_kind in DOCUMENTS:
        result = read_file(DEMO_DIR / name)
        if result.errors:
            raise ValueError(f"demo file {name}: {result.errors[0]}")
        for item in result.documents:
            # A key that does not depend on where the checkout lives, so re-runs update in place.
            key = f"demo:{name}" if not item.source_key.startswith(("id:", "url:")) else item.source_key
            outcome = document_ingest(
                game=games[slug],
                source_key=key,
                title=TITLES.get(name, item.title),
                content=item.content,
                category=item.category or category,
                tags=item.tags if item.tags is not None else tags,
                source_kind=item.source_kind if item.source_kind and name.endswith(".jsonl") else source_kind,
                content_format=item.content_format,
                language=item.language,
                source_url=item.source_url,
                sync=True,
            )
            counts[outcome.outcome] += 1
    for game in games.values():
        # Chunks another embedder made (the offline one before a key was set, hash before e5) are not
        # searched with this one: embed them again, or the demo's questions find nothing.
        documents_reembed_stale(game=game, sync=True)
        glossary_seed(game=game)
    return counts


def _demo_sources() -> dict[tuple[str, str], str]:
    """{(game slug, source key): content} of every demo document, keyed as demo_load stores them."""
    sources = {}
    for slug, name, *_ in DOCUMENTS:
        for item in read_file(DEMO_DIR / name).documents:
            key = f"demo:{name}" if not item.source_key.startswith(("id:", "url:")) else item.source_key
            sources[(slug, key)] = chunking.normalise(item.content)
    return sources


@dataclass(frozen=True)
class DemoRemoved:
    documents: int
    glossary_terms: int
    games: list[str]  # removed (with games=True, when no document was left in them)


def demo_remove(*, games: bool = False) -> DemoRemoved:
    """Take the demo documents out (and the glossary terms only they gave); idempotent.

    A jsonl line's document (keyed by its id) is the demo's only while it still has the demo's content:
    real content ingested under the same id is left alone. The games stay unless games=True and
    nothing else is in them, since real content usually goes into the same games.
    """
    sources = _demo_sources()
    slugs = sorted({spec["slug"] for spec in GAMES})
    candidates = Document.objects.filter(game__slug__in=slugs, source_key__in=[key for _, key in sources])
    removed, demo_texts = 0, []
    for document in candidates.select_related("game"):
        content = sources.get((document.game.slug, document.source_key))
        if content is None or not (document.source_key.startswith("demo:") or document.content == content):
            continue
        demo_texts.append(f"{document.title}\n{document.content}")
        document_delete(document=document)
        removed += 1
    terms_removed, games_removed = 0, []
    for game in Game.objects.filter(slug__in=slugs):
        # Seeded terms that came from the demo and that no remaining document gives any more.
        left = glossary_seed(game=game).candidates
        stale = [
            term.pk
            for term in GlossaryTerm.objects.filter(game=game, source=GlossaryTerm.Source.SEEDED, is_active=True)
            if term.term not in left and any(term.term in text for text in demo_texts)
        ]
        terms_removed += GlossaryTerm.objects.filter(pk__in=stale).delete()[0]
        if games and not Document.objects.filter(game=game).exists():
            GlossaryTerm.objects.filter(game=game).delete()
            game.delete()
            games_removed.append(game.slug)
    return DemoRemoved(documents=removed, glossary_terms=terms_removed, games=games_removed)
