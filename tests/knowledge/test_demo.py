"""The demo content: two games, Korean and English guides, the README's question answered from them."""

import io

import pytest
from django.core.management import call_command

from ai.embeddings import get_embedder
from dev.demo.loader import demo_load
from knowledge.models import Chunk, Document, Game
from knowledge.search import chunk_search
from knowledge.selectors import glossary_terms

pytestmark = pytest.mark.django_db


def _ask(game, question, **filters):
    embedder = get_embedder()
    return chunk_search(game=game, embedding=embedder.embed([question])[0], model_name=embedder.model_name, **filters)


def test_demo_games_have_korean_and_english_names():
    demo_load()
    games = {g.slug: g for g in Game.objects.all()}
    assert (games["elden-ring"].name_ko, games["elden-ring"].name_en) == ("엘든 링", "Elden Ring")
    assert (games["league-of-legends"].name_ko, games["league-of-legends"].name_en) == (
        "리그 오브 레전드",
        "League of Legends",
    )


def test_the_readme_question_retrieves_the_malenia_phase_2_guide_first():
    demo_load()
    hits = _ask("elden-ring", "말레니아 2페이즈 어떻게 피해요?")
    assert hits[0].title == "말레니아 2페이즈 공략: 부패의 여신"
    assert "말레니아 2페이즈" in hits[0].text


def test_the_english_jungle_question_retrieves_the_jungle_guide():
    demo_load()
    hits = _ask("league-of-legends", "best jungle path this patch?")
    assert hits[0].title == "Best jungle paths this patch"


def test_demo_subtitles_keep_their_timestamps():
    demo_load()
    video = Document.objects.get(content_format="srt")
    assert Chunk.objects.filter(document=video, start_time=1.0).exists()


def test_loading_twice_changes_nothing():
    first = demo_load()
    chunks = set(Chunk.objects.values_list("pk", "embedded_at"))
    second = demo_load()
    assert first["new"] == Document.objects.count() >= 7
    assert second == {"new": 0, "changed": 0, "unchanged": first["new"]}
    assert set(Chunk.objects.values_list("pk", "embedded_at")) == chunks


def test_demo_setup_loads_the_knowledge_too(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert "demo knowledge:" in out.getvalue()
    assert Document.objects.filter(game__slug="elden-ring", status="published").count() >= 3


def test_the_demo_glossary_names_the_bosses():
    demo_load()
    terms = glossary_terms(game="elden-ring")
    assert {"말레니아", "Malenia", "Starscourge Radahn"} <= set(terms)


def test_demo_remove_takes_the_demo_out_and_leaves_real_content(elden_ring, make_document):
    # given the demo and a real guide in the same game
    demo_load()
    real = make_document(title="Real Malenia guide", content="말레니아 물새 난무는 뒤로 달리세요.", tags=["malenia"])
    # when the demo is removed
    out = io.StringIO()
    call_command("demo_remove", stdout=out)
    # then only the real guide answers, in the games the demo made
    assert list(Document.objects.values_list("title", flat=True)) == ["Real Malenia guide"]
    assert [hit.title for hit in _ask("elden-ring", "말레니아 2페이즈 어떻게 피해요?")] == [real.title]
    assert not _ask("league-of-legends", "best jungle path this patch?")
    assert set(Game.objects.values_list("slug", flat=True)) == {"elden-ring", "league-of-legends"}
    assert "Starscourge Radahn" not in glossary_terms(game="elden-ring")  # only the demo named him
    assert out.getvalue().startswith("demo removed: 7 document(s), ")
    # and again: nothing left to remove
    out = io.StringIO()
    call_command("demo_remove", "--games", stdout=out)
    assert out.getvalue().strip() == "demo removed: 0 document(s), 0 glossary term(s), game(s) league-of-legends"
    assert list(Game.objects.values_list("slug", flat=True)) == ["elden-ring"]


def test_real_content_ingested_under_a_demo_faq_id_is_not_removed(league):
    demo_load()
    Document.objects.filter(source_key="id:lol-faq-smite").update(content="Our own Smite answer.")
    call_command("demo_remove", stdout=io.StringIO())
    assert list(Document.objects.values_list("source_key", flat=True)) == ["id:lol-faq-smite"]


def test_demo_setup_without_knowledge_loads_the_logins_only(settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_setup", "--no-knowledge", stdout=out)
    assert "no demo knowledge loaded" in out.getvalue()
    assert not Game.objects.exists() and not Document.objects.exists()
