"""The shipped entity catalogue: its files, loading it, staff's edits in the admin surviving a re-load, the command."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from dev.demo.loader import demo_load
from knowledge.entities import EntityIndex, name_tokens
from knowledge.models import Entity, Game, GlossaryTerm
from knowledge.selectors import entity_index
from knowledge.services import catalogue
from knowledge.services.catalogue import (
    CatalogueError,
    catalogue_games,
    catalogue_load,
    catalogue_read,
    entities_changed,
)

GAMES = ["elden-ring", "league-of-legends", "tft", "valorant"]
GUIDES = Path(__file__).resolve().parents[2] / "bench" / "data" / "quality" / "docs"


def _ids(game, text):
    return [match.entity_id for match in entity_index(game).find(text)]


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


# --- the files ------------------------------------------------------------------------------------


def test_every_game_ships_a_valid_catalogue_of_hundreds_of_names():
    assert catalogue_games() == GAMES
    counts = {game: len(catalogue_read(game=game)) for game in GAMES}
    assert sum(counts.values()) >= 500 and min(counts.values()) >= 60
    league = {entity.key: entity for entity in catalogue_read(game="league-of-legends")}
    assert sum(entity.kind == "champion" for entity in league.values()) >= 160
    assert (league["thresh"].name_ko, league["khazix"].name_ko) == ("쓰레쉬", "카직스")
    assert "노틸" in league["nautilus"].aliases and "블츠" in league["blitzcrank"].aliases


@pytest.mark.parametrize("game", GAMES)
def test_no_spelling_belongs_to_two_entities_of_a_game(game):
    owners: dict[str, str] = {}
    for entity in catalogue_read(game=game):
        for name in entity.names():
            owner = owners.setdefault("".join(name_tokens(name)), entity.key)
            assert owner == entity.key, f"{name!r} is both {owner} and {entity.key}"


# The Korean client's names and the spellings players type for the same boss, place or item.
ELDEN_RING_SPELLINGS = [
    ("별 부수는 라단 공략", ["radahn"]),
    ("라다안 패턴", ["radahn"]),
    ("라다한 잡는법", ["radahn"]),
    ("라단 대검", ["starscourge-greatswords"]),
    ("약속의 왕 라단 2페이즈", ["promised-consort-radahn", "phase-2"]),
    ("레나라 2페이즈", ["rennala", "phase-2"]),
    ("렌날라 공략", ["rennala"]),
    ("만월의 여왕 레날라", ["rennala"]),
    ("흑검 말리케스", ["maliketh"]),
    ("끔찍한 흉조 멀기트 패링", ["margit"]),
    ("흉조의 아이 모그", ["mohg-the-omen"]),
    ("피의 군주 모그", ["mohg"]),
    ("암흑의 부산물 아스테르", ["astel"]),
    ("성수의 기사 로레타", ["loretta"]),
    ("친위기사 로레타", ["loretta"]),
    ("신의 살갗의 사도 vs 신의 살갗의 귀인", ["godskin-apostle", "godskin-noble"]),
    ("노장 니아르", ["niall"]),
    ("고드릭의 군병", ["soldier-of-godrick"]),
    ("접목의 고드릭", ["godrick"]),
    ("뼛가루 추천", ["spirit-ashes"]),
    ("피의 강 출혈 빌드", ["rivers-of-blood"]),
    ("거대한 룬 어디서 켜요", ["great-rune"]),
    ("적사자성 축제", ["redmane-castle"]),
]
# Everyday Korean next to those names: a name that is also an ordinary word would match in all of these.
EVERYDAY_KOREAN = [
    "3월은 패치가 언제 나와요?",
    "성수동 오프라인 대회",
    "성수기라 서버가 느려요",
    "용인 병원 가는 길",
    "노장 선수가 은퇴했다",
    "방울 소리가 났다",
    "라니까 그렇게 말했잖아",
    "첫 왕 세종",
    "도가니 속에 넣어라",
    "검은 칼날 같은 바람",
    "선조의 지혜",
    "내리는 별을 봤다",
    "짐승 같은 체력",
    "사자가 무서워요",
    "밤에 기병대가 지나갔다",
    "부패한 정치인",
]


@pytest.mark.parametrize(("question", "expected"), ELDEN_RING_SPELLINGS)
def test_elden_ring_names_are_found_in_the_client_spelling_and_the_community_ones(question, expected):
    index = EntityIndex.build([(e.key, e.kind, e.names()) for e in catalogue_read(game="elden-ring")])
    assert [match.entity_id for match in index.find(question)] == expected


@pytest.mark.parametrize("game", GAMES)
def test_no_name_is_found_in_everyday_korean(game):
    index = EntityIndex.build([(e.key, e.kind, e.names()) for e in catalogue_read(game=game)])
    found = {text: [m.surface for m in index.find(text)] for text in EVERYDAY_KOREAN}
    assert {text: names for text, names in found.items() if names} == {}


def test_no_elden_ring_name_is_found_in_the_other_games_guides():
    # the other games' Korean and English guides are ordinary game text that names no Elden Ring entity
    index = EntityIndex.build([(e.key, e.kind, e.names()) for e in catalogue_read(game="elden-ring")])
    for path in sorted(p for game in GAMES[1:] for p in (GUIDES / game).rglob("*") if p.is_file()):
        assert [m.surface for m in index.find(path.read_text(encoding="utf-8"))] == [], path.name


# --- loading ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loading_writes_the_catalogue_of_existing_games_and_is_idempotent(elden_ring, league):
    first = {result.game: result for result in catalogue_load()}
    assert set(first) == {"elden-ring", "league-of-legends"}  # no valorant or tft game here
    assert first["elden-ring"].created == Entity.objects.filter(game=elden_ring).count() > 50
    assert Entity.objects.filter(source=Entity.Source.CATALOGUE).count() == sum(r.created for r in first.values())
    again = catalogue_load(game="elden-ring")[0]
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == first["elden-ring"].created
    assert _ids("league-of-legends", "리신으로 카직스 상대") == ["lee-sin", "khazix"]


@pytest.mark.django_db
def test_loading_updates_catalogue_rows_and_removes_dropped_ones_but_not_others(elden_ring):
    catalogue_load(game="elden-ring")
    Entity.objects.filter(game=elden_ring, key="malenia").update(aliases=[])
    Entity.objects.create(game=elden_ring, key="dropped", kind="boss", name_en="Gone", source="catalogue")
    Entity.objects.create(game=elden_ring, key="found", kind="term", name_en="Found", source="ingestion")
    result = catalogue_load(game="elden-ring")[0]
    assert (result.updated, result.removed) == (1, 1)
    assert "말레니야" in Entity.objects.get(game=elden_ring, key="malenia").aliases
    assert not Entity.objects.filter(key="dropped").exists() and Entity.objects.filter(key="found").exists()


@pytest.mark.django_db
def test_loading_an_unknown_game_or_a_game_without_a_catalogue_is_refused(db):
    with pytest.raises(CatalogueError, match="unknown game"):
        catalogue_load(game="zelda")
    Game.objects.create(slug="zelda", name_ko="젤다", name_en="Zelda")
    with pytest.raises(CatalogueError, match="no catalogue"):
        catalogue_load(game="zelda")


@pytest.mark.django_db
def test_the_demo_loads_the_catalogue_of_its_games():
    demo_load()
    assert _ids("elden-ring", "말레니아 2페이즈 어떻게 피해요?") == ["malenia", "phase-2"]
    assert _ids("league-of-legends", "best jungle path this patch?") == ["jungle"]


# --- staff in the admin -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_staff_edit_in_the_admin_survives_loading_the_catalogue_again(staff, elden_ring):
    catalogue_load(game="elden-ring")
    malenia = Entity.objects.get(game=elden_ring, key="malenia")
    url = reverse("admin:knowledge_entity_change", args=[malenia.pk])
    form = {"game": elden_ring.pk, "key": "malenia", "kind": "boss", "name_en": "Malenia", "name_ko": "말레니아",
            "aliases": "Malenia, Blade of Miquella\n말렌\n\n", "is_active": "on"}  # fmt: skip
    response = staff.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    malenia.refresh_from_db()
    assert (malenia.source, malenia.aliases) == ("staff", ["Malenia, Blade of Miquella", "말렌"])
    assert _ids("elden-ring", "말렌 공략") == ["malenia"]  # at once in this process

    result = catalogue_load(game="elden-ring")[0]
    assert result.kept == ["malenia"]
    malenia.refresh_from_db()
    assert malenia.aliases == ["Malenia, Blade of Miquella", "말렌"]
    # staff's aliases, not the file's: 미켈라의 칼날 말레니아 is no longer one, so 미켈라 is Miquella
    assert _ids("elden-ring", "말렌 vs Malenia, Blade of Miquella") == ["malenia", "malenia"]
    assert _ids("elden-ring", "미켈라의 칼날 말레니아") == ["miquella", "malenia"]


@pytest.mark.django_db
def test_staff_switch_an_entity_off_from_the_list_and_loading_keeps_it_off(staff, league):
    catalogue_load(game="league-of-legends")
    assert _ids("league-of-legends", "세트 아이템") == ["sett"]
    sett = Entity.objects.get(game=league, key="sett")
    response = staff.post(reverse("admin:knowledge_entity_changelist"),
                          {"action": "switch_off", "_selected_action": [sett.pk]})  # fmt: skip
    assert response.status_code == 302
    assert _ids("league-of-legends", "세트 아이템") == []
    catalogue_load(game="league-of-legends")
    assert not Entity.objects.get(pk=sett.pk).is_active
    assert _ids("league-of-legends", "세트 아이템") == []


@pytest.mark.django_db
def test_staff_find_entities_by_any_spelling_and_filter_by_kind(staff, league):
    catalogue_load(game="league-of-legends")
    url = reverse("admin:knowledge_entity_changelist")
    found = staff.get(url, {"q": "블츠"}).context["cl"].result_list
    assert [entity.key for entity in found] == ["blitzcrank"]
    roles = staff.get(url, {"kind__exact": "role"}).context["cl"].result_list
    assert {entity.key for entity in roles} == {"top", "jungle", "mid", "adc", "support"}


@pytest.mark.django_db
def test_a_glossary_term_switched_off_in_the_admin_leaves_the_index(staff, elden_ring):
    term = GlossaryTerm.objects.create(game=elden_ring, term="가시 덩굴")
    entities_changed(game="elden-ring")
    assert _ids("elden-ring", "가시 덩굴 피하기") == ["glossary:가시 덩굴"]
    response = staff.post(reverse("admin:knowledge_glossaryterm_changelist"),
                          {"action": "deactivate", "_selected_action": [term.pk]})  # fmt: skip
    assert response.status_code == 302
    assert _ids("elden-ring", "가시 덩굴 피하기") == []


# --- the command ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_loads_every_game_or_one_and_reports(elden_ring, league):
    out = io.StringIO()
    call_command("load_catalogue", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("elden-ring: ") and " new, 0 updated" in lines[0]
    assert lines[1].startswith("league-of-legends: ")
    out = io.StringIO()
    call_command("load_catalogue", "--game", "elden-ring", stdout=out)
    count = Entity.objects.filter(game=elden_ring).count()
    assert out.getvalue().strip() == (
        f"elden-ring: 0 new, 0 updated, {count} unchanged, 0 kept as staff edited them, 0 removed"
    )
    with pytest.raises(CommandError, match="unknown game 'zelda'"):
        call_command("load_catalogue", "--game", "zelda")


def test_a_broken_catalogue_file_is_refused_with_its_entry(tmp_path, monkeypatch):
    (tmp_path / "broken.json").write_text(
        json.dumps([{"id": "ok", "kind": "boss", "en": "Ok"}, {"id": "bad", "kind": "villain", "en": "Bad"}])
    )
    monkeypatch.setattr(catalogue, "CATALOGUE_DIR", tmp_path)
    with pytest.raises(CatalogueError, match=r"entry 2 \(bad\)"):
        catalogue_read(game="broken")
