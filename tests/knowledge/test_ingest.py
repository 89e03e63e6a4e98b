"""`manage.py ingest`: every source format, idempotent re-runs, atomic replacement, clear errors."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from ai.embeddings import get_embedder
from knowledge.models import Chunk, Document, Game, GlossaryTerm
from knowledge.search import chunk_search
from knowledge.summaries import summarize_chunk

pytestmark = pytest.mark.django_db

SRT = """1
00:00:01,000 --> 00:00:04,000
말레니아가 웅크리면 물새 난무입니다.

2
00:00:04,000 --> 00:00:08,500
바로 뒤로 달려서 첫 연격을 피하세요.

3
00:01:02,250 --> 00:01:05,000
<i>두 번째</i> 연격은 안쪽으로 구르세요.
"""

VTT = """WEBVTT
Kind: captions

NOTE made by hand

intro
00:00.000 --> 00:03.500 align:start
<v Coach>Take the Scuttle Crab at three fifteen.

00:03.500 --> 00:07.000
<c.yellow>Then</c> gank the lane with priority.
"""


def ingest(*args, expect_error=False):
    out, err = io.StringIO(), io.StringIO()
    if expect_error:
        with pytest.raises(CommandError) as raised:
            call_command("ingest", *map(str, args), stdout=out, stderr=err)
        return out.getvalue(), err.getvalue() + str(raised.value)
    call_command("ingest", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _search(game, text, **filters):
    embedder = get_embedder()
    return chunk_search(game=game, embedding=embedder.embed([text])[0], model_name=embedder.model_name, **filters)


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def sources(tmp_path):
    write(
        tmp_path / "malenia.md", "# 말레니아 2페이즈 공략\n\n말레니아(Malenia)가 떠오르면 개화입니다. 반대로 달리세요."
    )
    write(tmp_path / "notes.txt", "Radahn is weak to scarlet rot. Summon allies at the signs.")
    write(
        tmp_path / "page.html",
        "<html><head><title>Rune farming</title><style>p{color:red}</style><script>var x='hidden';</script></head>"
        "<body><h1>Rune farming</h1><p>Farm the <b>birds</b> at Mohgwyn Palace.</p>"
        "<p>Use Golden Scarab.</p></body></html>",
    )
    write(tmp_path / "video.srt", SRT)
    write(tmp_path / "lol.vtt", VTT)
    lines = [
        {"id": "faq-1", "title": "Smite timing", "content": "Keep one Smite for Dragon.", "category": "faq",
         "tags": ["smite"], "source_kind": "faq", "url": "https://example.com/faq/1"},
        {"title": "첫 귀환", "text": "첫 귀환은 4분 전에 하세요.", "language": "ko"},
    ]  # fmt: skip
    write(tmp_path / "faq.jsonl", "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    return tmp_path


def test_every_supported_format_is_ingested_and_summarised(elden_ring, sources):
    # when a directory of mixed sources is ingested inline
    out, _ = ingest(sources, "--game", "elden-ring", "--category", "boss", "--tags", "malenia,phase-2", "--sync")
    # then the summary counts them all
    assert "documents: 7 new, 0 changed, 0 unchanged, 0 failed" in out
    assert "chunks: " in out and "time: " in out
    documents = {d.title: d for d in Document.objects.all()}
    assert set(documents) == {
        "말레니아 2페이즈 공략",
        "notes",
        "Rune farming",
        "말레니아가 웅크리면 물새 난무입니다.",
        "Take the Scuttle Crab at three fifteen.",
        "Smite timing",
        "첫 귀환",
    }
    # html: text only, scripts and styles dropped
    assert "Farm the birds at Mohgwyn Palace." in documents["Rune farming"].content
    assert "hidden" not in documents["Rune farming"].content and "color" not in documents["Rune farming"].content
    # subtitles keep their format and kind; chunks carry the time span of their cues
    video = documents["말레니아가 웅크리면 물새 난무입니다."]  # subtitles: titled by their first caption
    assert video.content_format == "srt"
    assert video.source_kind == "video_subtitles"
    video_chunk = Chunk.objects.get(document=video)
    assert (video_chunk.start_time, video_chunk.end_time) == (1.0, 65.0)
    assert "두 번째 연격은 안쪽으로 구르세요." in video_chunk.text and "<i>" not in video_chunk.text
    vtt_chunk = Chunk.objects.get(document=documents["Take the Scuttle Crab at three fifteen."])
    assert vtt_chunk.text == "Take the Scuttle Crab at three fifteen. Then gank the lane with priority."
    # jsonl: each line its own document and metadata, the command's options as defaults
    smite = documents["Smite timing"]
    assert (smite.category, smite.tags, smite.source_kind, smite.source_url) == (
        "faq", ["smite"], "faq", "https://example.com/faq/1")  # fmt: skip
    assert (documents["첫 귀환"].category, documents["첫 귀환"].tags, documents["첫 귀환"].language) == (
        "boss", ["malenia", "phase-2"], "ko")  # fmt: skip
    assert documents["notes"].language == "en" and documents["말레니아 2페이즈 공략"].language == "ko"
    # everything is embedded, live and findable
    assert all(d.index_status == "ready" and d.status == "published" for d in documents.values())
    assert not Chunk.objects.filter(searchable=False).exists()
    assert _search("elden-ring", "말레니아 2페이즈 어떻게 피해요?")[0].title == "말레니아 2페이즈 공략"


def test_rerunning_on_unchanged_content_changes_nothing(elden_ring, sources):
    ingest(sources, "--game", "elden-ring", "--category", "boss", "--sync")
    before = {c.pk: (c.text, c.embedded_at) for c in Chunk.objects.all()}
    stamps = dict(Document.objects.values_list("pk", "updated_at"))
    out, _ = ingest(sources, "--game", "elden-ring", "--category", "boss", "--sync")
    assert "documents: 0 new, 0 changed, 7 unchanged, 0 failed; chunks: 0 (0 tokens" in out
    assert {c.pk: (c.text, c.embedded_at) for c in Chunk.objects.all()} == before
    assert dict(Document.objects.values_list("pk", "updated_at")) == stamps


def test_changed_content_replaces_its_chunks(elden_ring, sources):
    ingest(sources / "notes.txt", "--game", "elden-ring", "--category", "boss", "--sync")
    old_ids = set(Chunk.objects.values_list("pk", flat=True))
    write(sources / "notes.txt", "Radahn falls as a meteor at half health: ride away in a straight line.")
    out, _ = ingest(sources / "notes.txt", "--game", "elden-ring", "--category", "boss", "--sync")
    assert "documents: 0 new, 1 changed, 0 unchanged, 0 failed" in out
    chunks = list(Chunk.objects.all())
    assert old_ids.isdisjoint(c.pk for c in chunks)
    assert [c.text for c in chunks] == ["Radahn falls as a meteor at half health: ride away in a straight line."]
    assert chunks[0].searchable


def test_changed_content_keeps_answering_from_the_old_chunks_until_the_new_ones_are_embedded(
    elden_ring, sources, celery_eager, django_capture_on_commit_callbacks
):
    # given a live document
    ingest(sources / "notes.txt", "--game", "elden-ring", "--category", "boss", "--sync")
    write(sources / "notes.txt", "Radahn falls as a meteor at half health.")
    # when its new content is ingested for the background (the queued work not yet run)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        ingest(sources / "notes.txt", "--game", "elden-ring", "--category", "boss")
    # then retrieval still sees exactly the old chunks, and the document shows its progress
    hits = _search("elden-ring", "Radahn meteor")
    assert [h.text for h in hits] == ["Radahn is weak to scarlet rot. Summon allies at the signs."]
    document = Document.objects.get()
    assert (document.index_status, document.index_done, document.index_total) == ("indexing", 0, 1)
    # and once the queued tasks run, the new chunks replace the old ones
    for callback in queued:
        callback()
    hits = _search("elden-ring", "Radahn meteor")
    assert [h.text for h in hits] == ["Radahn falls as a meteor at half health."]
    document.refresh_from_db()
    assert (document.index_status, document.index_done, document.index_total) == ("ready", 1, 1)


def test_bad_files_get_clear_messages_and_a_failure_while_good_files_are_ingested(elden_ring, tmp_path):
    write(tmp_path / "good.md", "Good content about Malenia.")
    write(tmp_path / "empty.txt", "   \n")
    write(tmp_path / "latin1.txt", "caf\xe9 au lait", encoding="latin-1")
    write(tmp_path / "lines.jsonl", '{"title": "ok", "content": "fine line"}\n{"title": "broken", "content": \n'
          '{"title": "no content"}\n[1, 2]\n{"title": "t", "content": "c", "tags": "a,b"}\n')  # fmt: skip
    write(tmp_path / "slides.pdf", "%PDF-1.4")
    write(tmp_path / "broken.srt", "1\nno timing here\n")
    unreadable = write(tmp_path / "secret.md", "secret")
    unreadable.chmod(0)
    files = [tmp_path / n for n in ("good.md", "empty.txt", "latin1.txt", "lines.jsonl", "slides.pdf", "broken.srt")]
    out, err = ingest(*files, unreadable, tmp_path / "missing.md", "--game", "elden-ring", "--category", "boss",
                      "--sync", expect_error=True)  # fmt: skip
    assert f"{tmp_path / 'empty.txt'}: empty file" in err
    assert f"{tmp_path / 'latin1.txt'}: wrong encoding: not UTF-8 (byte 0xe9 at offset 3)" in err
    assert f"{tmp_path / 'lines.jsonl'}:2: malformed JSON line" in err
    assert f"{tmp_path / 'lines.jsonl'}:3: missing 'content'" in err
    assert f"{tmp_path / 'lines.jsonl'}:4: each line must be a JSON object" in err
    assert f"{tmp_path / 'lines.jsonl'}:5: 'tags' must be a list of strings" in err
    assert f"{tmp_path / 'slides.pdf'}: unsupported file type '.pdf'" in err
    assert f"{tmp_path / 'broken.srt'}: subtitle block 1 has no 'start --> end' timing line" in err
    assert f"{tmp_path / 'missing.md'}: no such file or directory" in err
    if os.geteuid() != 0:  # root reads any file
        assert f"{unreadable}: unreadable" in err
    assert "source(s) failed" in err
    # the good file and the good jsonl line are in
    assert sorted(Document.objects.values_list("title", flat=True)) == sorted(
        ["good", "ok"] + (["secret"] if os.geteuid() == 0 else [])
    )
    assert "failed" in out


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_when_a_source_fails(elden_ring, tmp_path):
    write(tmp_path / "good.md", "Good content about Radahn.")
    write(tmp_path / "bad.jsonl", '{"title": "x", "content": "y"}\nnot json\n')
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest", tmp_path / "good.md", tmp_path / "bad.jsonl", "--game", "elden-ring",
         "--category", "boss", "--sync"],
        cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"{tmp_path / 'bad.jsonl'}:2: malformed JSON line" in result.stderr
    assert "documents: 2 new, 0 changed, 0 unchanged, 1 failed" in result.stdout
    assert sorted(Document.objects.values_list("title", flat=True)) == ["good", "x"]


def test_a_piece_over_1200_tokens_is_summarised_before_it_is_stored(elden_ring, tmp_path):
    sentences = " ".join(f"Sentence {i} explains one more detail of Malenia's second phase." for i in range(160))
    write(tmp_path / "long.md", f"# Long\n\n{sentences}\n\nA short closing note.")
    out, _ = ingest(tmp_path / "long.md", "--game", "elden-ring", "--category", "boss", "--sync")
    assert "1 summarised" in out
    summarised = Chunk.objects.get(summarized=True)
    assert summarised.text == summarize_chunk(f"# Long\n\n{sentences}")
    assert summarised.token_count < 1200 and not summarised.needs_summary
    assert Chunk.objects.filter(summarized=False).get().text == "A short closing note."


def test_dry_run_reports_and_writes_nothing(elden_ring, sources):
    out, _ = ingest(sources, "--game", "elden-ring", "--category", "boss", "--dry-run")
    assert "dry run, nothing written: would ingest 7 document(s) (7 new, 0 changed); 0 unchanged, 0 failed" in out
    assert "ingested" not in out.replace("would ingest", "")
    assert not Document.objects.exists() and not Chunk.objects.exists()


def test_an_unknown_game_is_refused_before_reading_anything(elden_ring, sources):
    with pytest.raises(CommandError, match=r"unknown game 'zelda'.*elden-ring"):
        call_command("ingest", str(sources), "--game", "zelda", "--category", "boss")


def test_a_document_without_any_category_is_a_failure(elden_ring, tmp_path):
    write(tmp_path / "a.md", "text")
    _, err = ingest(tmp_path / "a.md", "--game", "elden-ring", expect_error=True)
    assert "no category" in err


def test_progress_is_shown_per_file_and_the_glossary_is_seeded(elden_ring, sources):
    out, err = ingest(sources, "--game", "elden-ring", "--category", "boss", "--sync")
    assert "ingest [" in err and "7/7" not in err  # 6 files
    assert "6/6 video.srt" in err or "6/6" in err
    assert "glossary:" in out
    assert GlossaryTerm.objects.filter(game=elden_ring, term="Malenia").exists()


def test_without_sync_the_work_is_queued_for_celery(elden_ring, sources, django_capture_on_commit_callbacks,
                                                    celery_eager):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = ingest(sources / "notes.txt", "--game", "elden-ring", "--category", "boss")
    assert "embedding runs in the background" in out
    assert Document.objects.get().index_status == "ready"


# --- a library: folders, a manifest, several games (issue 24) ------------------------------------
MANIFEST = {
    "files": {
        "elden-ring/malenia.md": {"game": "elden-ring", "category": "boss", "tags": ["malenia"], "language": "ko"},
        "elden-ring/mohg.vtt": {"game": "elden-ring", "category": "boss", "tags": ["mohg"],
                                "source_url": "https://youtu.be/mohg"},
        "league-of-legends/thresh.txt": {"game": "league-of-legends", "category": "support", "tags": "thresh, lantern",
                                         "title": "쓰레쉬 서폿 가이드", "source_kind": "guide"},
        "faq.jsonl": {"category": "faq"},
    }
}  # fmt: skip


@pytest.fixture
def library(tmp_path):
    """A guide library as staff keep it: docs/ per game, one FAQ for every game, the manifest beside docs/."""
    docs = tmp_path / "library" / "docs"
    write(
        docs / "elden-ring" / "malenia.md",
        "---\nauthor: kim\n---\n\n# 말레니아 물새 난무 피하기\n\n말레니아가 뜨면 뛰세요.",
    )
    write(
        docs / "elden-ring" / "mohg.vtt", "WEBVTT - Mohg, Lord of Blood\n\n00:00.000 --> 00:03.000\nMohg curses you.\n"
    )
    write(docs / "league-of-legends" / "thresh.txt", "thresh notes\n\nHook, then flay the target back to you.")
    lines = [
        {"title": "Smite", "content": "Keep one Smite for Dragon.", "game": "league-of-legends",
         "source_url": "https://example.com/faq/smite", "tags": ["smite"]},
        {"question": "토렌트는 언제 얻나요?", "answer": "축복을 세 개 찾으면 멜리나가 줍니다.", "game": "elden-ring"},
    ]  # fmt: skip
    write(docs / "faq.jsonl", "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    write(docs / ".DS_Store", "junk")
    manifest = tmp_path / "library" / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST, ensure_ascii=False))
    return docs, manifest


def _placed():
    return {
        d.title: (d.game.slug, d.category, d.tags, d.language, d.source_kind, d.source_url, d.source_key)
        for d in Document.objects.select_related("game")
    }


def test_a_folder_and_its_manifest_land_each_document_in_its_game_with_a_readable_title(elden_ring, league, library):
    docs, manifest = library
    # when the whole folder is ingested with one command and the manifest beside it
    out, _ = ingest(docs, "--manifest", manifest, "--sync")
    # then every file and every jsonl line is in its own game, with the manifest's metadata
    assert "documents: 5 new, 0 changed, 0 unchanged, 0 failed" in out
    assert "  elden-ring: 3 new" in out and "  league-of-legends: 2 new" in out
    assert _placed() == {
        "말레니아 물새 난무 피하기": (
            "elden-ring", "boss", ["malenia"], "ko", "guide", "", "file:elden-ring/malenia.md"),
        "Mohg, Lord of Blood": (
            "elden-ring", "boss", ["mohg"], "en", "video_subtitles", "https://youtu.be/mohg",
            "file:elden-ring/mohg.vtt"),
        "쓰레쉬 서폿 가이드": (
            "league-of-legends", "support", ["thresh", "lantern"], "en", "guide", "",
            "file:league-of-legends/thresh.txt"),
        "Smite": (
            "league-of-legends", "faq", ["smite"], "en", "guide", "https://example.com/faq/smite",
            "url:https://example.com/faq/smite"),
        "토렌트는 언제 얻나요?": ("elden-ring", "faq", [], "ko", "faq", "", "file:faq.jsonl#2"),
    }  # fmt: skip
    assert Document.objects.get(title="토렌트는 언제 얻나요?").content.endswith("멜리나가 줍니다.")
    assert not Chunk.objects.filter(searchable=False).exists()


def test_a_yaml_manifest_is_read_like_the_json_one(elden_ring, league, library):
    docs, manifest = library
    yaml_manifest = manifest.with_suffix(".yaml")
    yaml_manifest.write_text(yaml.safe_dump(MANIFEST, allow_unicode=True))
    out, _ = ingest(docs, "--manifest", yaml_manifest, "--sync")
    assert "documents: 5 new" in out
    assert Document.objects.get(source_key="file:league-of-legends/thresh.txt").title == "쓰레쉬 서폿 가이드"


def test_rerunning_from_another_working_directory_changes_nothing(elden_ring, league, library, monkeypatch):
    docs, manifest = library
    # given the library ingested from the folder above it, with relative paths
    monkeypatch.chdir(docs.parent)
    ingest("docs", "--manifest", "manifest.json", "--sync")
    before = {(d.pk, d.source_key, d.updated_at) for d in Document.objects.all()}
    # when it is ingested again from elsewhere, by absolute paths, and from inside the folder
    monkeypatch.chdir(docs.parent.parent)
    out, _ = ingest(docs, "--manifest", manifest, "--sync")
    monkeypatch.chdir(docs / "elden-ring")
    again, _ = ingest("..", "--manifest", "../../manifest.json", "--sync")
    # then nothing changed: no duplicate, no update
    assert "documents: 0 new, 0 changed, 5 unchanged, 0 failed" in out
    assert "documents: 0 new, 0 changed, 5 unchanged, 0 failed" in again
    assert {(d.pk, d.source_key, d.updated_at) for d in Document.objects.all()} == before


def test_one_file_named_with_its_root_is_the_same_document_as_in_the_folder(elden_ring, league, library):
    docs, manifest = library
    ingest(docs, "--manifest", manifest, "--sync")
    write(docs / "elden-ring" / "malenia.md", "# 말레니아 물새 난무 피하기\n\n말레니아가 뜨면 바로 뒤로 뛰세요.")
    out, _ = ingest(docs / "elden-ring" / "malenia.md", "--root", docs, "--manifest", manifest, "--sync")
    assert "documents: 0 new, 1 changed, 0 unchanged, 0 failed" in out
    assert Document.objects.count() == 5


def test_a_document_ingested_under_its_old_working_directory_key_is_taken_over(elden_ring, tmp_path, monkeypatch):
    # given a file ingested before identities were stable: its key was its path from the working directory
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "guides" / "radahn.md", "# Radahn\n\nRide away from the meteor.")
    out, _ = ingest("guides/radahn.md", "--game", "elden-ring", "--category", "boss", "--sync")
    Document.objects.update(source_key="file:guides/radahn.md")  # what the older command stored
    # when the folder is ingested now
    out, _ = ingest(path.parent, "--game", "elden-ring", "--category", "boss", "--sync")
    # then the same document is kept, under the stable key
    assert "documents: 0 new, 0 changed, 1 unchanged" in out
    assert list(Document.objects.values_list("source_key", flat=True)) == ["file:radahn.md"]


def test_sources_naming_several_games_without_a_manifest_or_game_are_refused(elden_ring, league, tmp_path):
    lines = [{"title": "a", "content": "Smite the dragon.", "game": "league-of-legends"},
             {"title": "b", "content": "Roll into Malenia.", "game": "elden-ring"}]  # fmt: skip
    write(tmp_path / "faq.jsonl", "\n".join(json.dumps(line) for line in lines))
    _, err = ingest(tmp_path, "--category", "faq", expect_error=True)
    assert "these sources name 2 games (elden-ring: 1 document(s), league-of-legends: 1 document(s))" in err
    assert "nothing was ingested" in err
    assert not Document.objects.exists()


def test_a_file_no_game_claims_fails_with_how_to_place_it(elden_ring, tmp_path):
    write(tmp_path / "a.md", "# A\n\ntext")
    _, err = ingest(tmp_path, "--category", "boss", expect_error=True)
    assert f"{tmp_path / 'a.md'}: no game: list it in the manifest as 'a.md', pass --game" in err
    assert "no document was added or changed" in err
    assert not Document.objects.exists()


def test_unknown_games_are_named_with_how_to_create_them_and_nothing_is_ingested(elden_ring, library):
    docs, manifest = library  # league-of-legends does not exist here
    _, err = ingest(docs, "--manifest", manifest, "--sync", expect_error=True)
    assert "unknown game(s): league-of-legends: 2 document(s); nothing was ingested" in err
    assert "manage.py game league-of-legends --ko" in err
    assert not Document.objects.exists()


def test_the_manifest_may_create_the_games_it_needs(elden_ring, library):
    docs, manifest = library
    data = {**MANIFEST, "games": [{"slug": "league-of-legends", "name_ko": "리그 오브 레전드",
                                   "name_en": "League of Legends", "categories": ["support", "jungle"]}]}  # fmt: skip
    manifest.write_text(json.dumps(data, ensure_ascii=False))
    # a dry run says it would create the game, and does not
    out, _ = ingest(docs, "--manifest", manifest, "--dry-run")
    assert "would create game league-of-legends (리그 오브 레전드 / League of Legends)" in out
    assert "would ingest 5 document(s)" in out
    assert not Game.objects.filter(slug="league-of-legends").exists() and not Document.objects.exists()
    # the real run creates it and places its documents in it
    out, _ = ingest(docs, "--manifest", manifest, "--sync")
    assert "created game league-of-legends" in out
    league = Game.objects.get(slug="league-of-legends")
    assert (league.name_en, league.categories[:2]) == ("League of Legends", ["support", "jungle"])
    assert league.documents.count() == 2


def test_a_bad_manifest_is_refused_with_every_problem_and_nothing_ingested(elden_ring, library):
    docs, manifest = library
    manifest.write_text(json.dumps({"files": {
        "../outside.md": {"game": "elden-ring"},
        "elden-ring/malenia.md": {"game": "elden-ring", "categry": "boss"},
        "elden-ring/mohg.vtt": {"game": "elden-ring", "language": "jp"},
    }}))  # fmt: skip
    _, err = ingest(docs, "--manifest", manifest, expect_error=True)
    assert "the manifest cannot be used; nothing was ingested" in err
    assert "file '../outside.md': give a path relative to the root" in err
    assert "file 'elden-ring/malenia.md': unknown field(s) categry" in err
    assert "file 'elden-ring/mohg.vtt': 'language' must be one of ko, en" in err
    assert not Document.objects.exists()


def test_a_manifest_entry_without_its_file_is_a_named_failure(elden_ring, league, library):
    docs, manifest = library
    data = {"files": {**MANIFEST["files"], "elden-ring/radahn.md": {"game": "elden-ring", "category": "boss"}}}
    manifest.write_text(json.dumps(data))
    out, err = ingest(docs, "--manifest", manifest, "--sync", expect_error=True)
    assert f"{manifest}: 'elden-ring/radahn.md' is listed, but no such file under {docs}" in err
    assert "documents: 5 new, 0 changed, 0 unchanged, 1 failed" in out
    assert "1 source(s) failed (listed above); 5 other document(s) were ingested" in err


def test_two_files_with_one_identity_are_not_merged(elden_ring, tmp_path):
    write(tmp_path / "a" / "faq.md", "# A\n\nfirst")
    write(tmp_path / "b" / "faq.md", "# B\n\nsecond")
    _, err = ingest(tmp_path / "a" / "faq.md", tmp_path / "b" / "faq.md", "--game", "elden-ring",
                    "--category", "boss", "--sync", expect_error=True)  # fmt: skip
    assert f"{tmp_path / 'b' / 'faq.md'}: same identity 'file:faq.md' as {tmp_path / 'a' / 'faq.md'}" in err
    assert list(Document.objects.values_list("title", flat=True)) == ["A"]


def test_titles_come_from_the_documents_own_headings_never_the_file_name(elden_ring, tmp_path):
    write(tmp_path / "lol-thresh-support-combos.txt", "Thresh Support Combos\n\nFlay, then hook. Lantern your jungler.")
    write(tmp_path / "caps.txt", 'FAITH BUILD - "BLACK FLAME"\nWritten for patch 1.10.\n\nWHY FAITH?\nBuffs.')
    write(tmp_path / "wrapped.txt", "Radahn is weak to scarlet rot and you should summon\nthe allies at the signs.")
    write(tmp_path / "setext.md", "Margit, the Fell Omen\n=====================\n\nDodge the hammer.")
    write(tmp_path / "later-heading.md", "<!-- draft -->\n\n## Phase two\n\nRun.")
    write(tmp_path / "clip.srt", SRT)
    out, _ = ingest(tmp_path, "--game", "elden-ring", "--category", "boss", "--dry-run")
    assert "would ingest 6 document(s)" in out
    ingest(tmp_path, "--game", "elden-ring", "--category", "boss", "--sync")
    titles = dict(Document.objects.values_list("source_key", "title"))
    assert titles == {
        "file:lol-thresh-support-combos.txt": "Thresh Support Combos",
        "file:caps.txt": 'FAITH BUILD - "BLACK FLAME"',
        "file:wrapped.txt": "wrapped",  # no heading, and its first line is a wrapped sentence
        "file:setext.md": "Margit, the Fell Omen",
        "file:later-heading.md": "Phase two",
        "file:clip.srt": "말레니아가 웅크리면 물새 난무입니다.",
    }


def test_a_dry_run_with_failures_says_nothing_was_written(elden_ring, tmp_path):
    write(tmp_path / "good.md", "# Good\n\nMalenia.")
    write(tmp_path / "empty.md", " ")
    out, err = ingest(tmp_path, "--game", "elden-ring", "--category", "boss", "--dry-run", expect_error=True)
    assert "dry run, nothing written: would ingest 1 document(s) (1 new, 0 changed); 0 unchanged, 1 failed" in out
    assert (
        "1 source(s) failed (listed above); dry run: the others would ingest 1 document(s); nothing was written" in err
    )
    assert "were ingested" not in out + err
    assert not Document.objects.exists()
