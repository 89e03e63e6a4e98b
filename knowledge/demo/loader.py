"""Load the demo games and documents, embedded inline so the README's questions work at once; idempotent."""

from pathlib import Path

from knowledge import services
from knowledge.ingestion import read_file

DEMO_DIR = Path(__file__).resolve().parent
GAMES = [
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


def demo_load() -> dict[str, int]:
    """Create the demo games and ingest the demo documents (published); returns outcome counts."""
    games = {spec["slug"]: services.game_create_or_update(**spec) for spec in GAMES}
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    for slug, name, category, tags, source_kind in DOCUMENTS:
        result = read_file(DEMO_DIR / name)
        if result.errors:
            raise ValueError(f"demo file {name}: {result.errors[0]}")
        for item in result.documents:
            # A key that does not depend on where the checkout lives, so re-runs update in place.
            key = f"demo:{name}" if not item.source_key.startswith(("id:", "url:")) else item.source_key
            outcome = services.document_ingest(
                game=games[slug],
                source_key=key,
                title=item.title,
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
        services.glossary_seed(game=game)
    return counts
