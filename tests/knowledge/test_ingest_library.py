"""A new staff member's path (issue 24's "done when"): on an empty database, one `manage.py ingest` of the
guide library in bench/data/quality with its manifest makes the four games and lands every document in
its game with a readable title; running it again from another directory changes nothing."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from knowledge.models import Chunk, Document, Game

pytestmark = pytest.mark.django_db

LIBRARY = Path(__file__).resolve().parents[2] / "bench" / "data" / "quality"


def _expected_titles() -> dict[str, set[str]]:
    """game slug -> the titles its documents must have: the manifest's, or each FAQ line's own."""
    manifest = json.loads((LIBRARY / "manifest.json").read_text(encoding="utf-8"))
    titles: dict[str, set[str]] = {}
    for path, entry in manifest["files"].items():
        if path.endswith(".jsonl"):
            lines = (LIBRARY / "docs" / path).read_text(encoding="utf-8").splitlines()
            names = {json.loads(line)["title"] for line in lines if line.strip()}
        else:
            names = {entry["title"]}
        titles.setdefault(entry["game"], set()).update(names)
    return titles


def _ingest(*args) -> str:
    out = io.StringIO()
    call_command("ingest", *map(str, args), "--sync", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_one_command_loads_the_library_into_its_four_games_and_a_rerun_elsewhere_changes_nothing(monkeypatch):
    # given an empty database (no game yet) and the library as staff keep it: docs/ and the manifest beside it
    assert not Game.objects.exists()
    monkeypatch.chdir(LIBRARY)

    # when it is ingested with one command, paths relative to where staff stand
    out = _ingest("docs", "--manifest", "manifest.json")

    # then the manifest's games exist with their Korean and English names and categories
    names = {game.slug: (game.name_ko, game.name_en) for game in Game.objects.all()}
    assert names == {
        "elden-ring": ("엘든 링", "Elden Ring"),
        "league-of-legends": ("리그 오브 레전드", "League of Legends"),
        "valorant": ("발로란트", "VALORANT"),
        "tft": ("전략적 팀 전투", "Teamfight Tactics"),
    }
    assert set(Game.objects.get(slug="tft").categories) == {"comp", "augment", "patch"}
    # and every document is in its game with the title the manifest or its FAQ line gives, all embedded
    expected = _expected_titles()
    for slug, titles in expected.items():
        assert set(Document.objects.filter(game__slug=slug).values_list("title", flat=True)) == titles, slug
    assert Document.objects.count() == sum(len(titles) for titles in expected.values())
    assert not Document.objects.exclude(index_status=Document.IndexStatus.READY).exists()
    assert "0 failed" in out
    documents = dict(Document.objects.values_list("source_key", "content_hash"))
    chunks = Chunk.objects.count()

    # when it runs again from another directory, with absolute paths
    monkeypatch.chdir(LIBRARY.parent.parent.parent)
    again = _ingest(LIBRARY / "docs", "--manifest", LIBRARY / "manifest.json")

    # then nothing changed: same documents, same chunks, no new game
    assert f"0 new, 0 changed, {len(documents)} unchanged, 0 failed" in again
    assert dict(Document.objects.values_list("source_key", "content_hash")) == documents
    assert Chunk.objects.count() == chunks and Game.objects.count() == 4
