"""Entity names in questions: Korean and English spellings, particles, spacing, short forms, typos; the index."""

import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from knowledge.entities import EntityIndex
from knowledge.models import Entity, GlossaryTerm
from knowledge.selectors import aentity_index, entity_index, entity_index_version_key
from knowledge.services.catalogue import CATALOGUE_DIR, catalogue_load, entities_changed, entity_staff_save

CATALOGUE = Path(CATALOGUE_DIR)


def _shipped(game: str) -> EntityIndex:
    items = json.loads((CATALOGUE / f"{game}.json").read_text(encoding="utf-8"))
    return EntityIndex.build([(e["id"], e["kind"], [e["en"], e["ko"], *e["aliases"]]) for e in items])


@pytest.fixture(scope="module")
def lol():
    return _shipped("league-of-legends")


@pytest.fixture(scope="module")
def elden():
    return _shipped("elden-ring")


@pytest.fixture(scope="module")
def valorant():
    return _shipped("valorant")


def _ids(index, text):
    return [match.entity_id for match in index.find(text)]


# --- Korean -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, expected",
    [
        ("말레니아를 어떻게 잡나요", ["malenia"]),
        ("말레니아는 2페이즈가 어려워요", ["malenia", "phase-2"]),
        ("말레니아한테는 출혈이 잘 들어가요?", ["malenia"]),
        ("미켈라의 칼날 말레니아 공략", ["malenia"]),
        ("부패의 여신 말레니아의 물새 난무", ["malenia", "waterfowl-dance"]),
        ("물새 춤 피하는 법", ["waterfowl-dance"]),
        ("라다곤이랑 엘데의 짐승 중에 누가 어려워", ["radagon", "elden-beast"]),
    ],
)
def test_korean_names_are_found_before_particles(elden, question, expected):
    assert _ids(elden, question) == expected


def test_a_match_covers_the_name_not_its_particle(elden):
    (match,) = elden.find("말레니아를 잡고 싶어요")
    assert (match.surface, match.start, match.end, match.kind) == ("말레니아", 0, 4, "boss")


@pytest.mark.parametrize(
    "question, expected",
    [
        ("리신으로 정글 어떻게 돌아요?", ["lee-sin", "jungle"]),
        ("리 신으로 정글 어떻게 돌아요?", ["lee-sin", "jungle"]),
        ("쓰레쉬랑 노틸 중에 서폿 뭐가 좋아", ["thresh", "nautilus", "support"]),
        ("노틸러스 상대로 블츠", ["nautilus", "blitzcrank"]),
        ("카직스 정글 템트리", ["khazix", "jungle"]),
        ("요네상대로 야스오 어떻게 해요", ["yone", "yasuo"]),
        ("자르반 4세 탑", ["jarvan-iv", "top"]),
        ("칼바람에서 이즈 템", ["aram", "ezreal"]),
        ("솔랭 원딜 미포 룬", ["ranked-solo", "adc", "miss-fortune"]),
    ],
)
def test_league_names_short_forms_and_roles_in_korean(lol, question, expected):
    assert _ids(lol, question) == expected


def test_the_longest_name_wins_and_matches_do_not_overlap(lol):
    assert _ids(lol, "마스터 이상 구간에서 마스터 이 픽률") == ["master", "master-yi"]
    assert _ids(valorant_index := _shipped("valorant"), "팀 데스매치랑 데스매치 차이") == [
        "team-deathmatch",
        "deathmatch",
    ]
    assert _ids(valorant_index, "스파이크 돌격 모드") == ["spike-rush"]


def test_a_korean_name_inside_another_word_is_not_a_match(lol):
    # 오른 (Ornn) before a noun that is not a particle, 리 신 before 신경
    assert _ids(lol, "오른쪽으로 가세요") == []
    assert _ids(lol, "리 신경 쓰지 마") == []


# --- English ------------------------------------------------------------------------------------


def test_english_names_are_case_insensitive_whole_words(lol):
    assert _ids(lol, "LEE SIN jungle path vs Kha'Zix") == ["lee-sin", "jungle", "khazix"]
    assert _ids(lol, "leesin or khazix?") == ["lee-sin", "khazix"]
    assert _ids(lol, "as he said, she smashed it") == []  # no Ashe across words or inside one
    assert _ids(lol, "Dr. Mundo top into Nunu & Willump") == ["dr-mundo", "top", "nunu"]


def test_english_short_forms_and_roles(lol):
    expected = ["twisted-fate", "mid", "jarvan-iv", "jungle", "adc", "support"]
    assert _ids(lol, "tf mid or j4 jg? adc and supp") == expected


def test_a_korean_particle_after_an_english_name(elden):
    assert _ids(elden, "Malenia를 Rivers of Blood로 잡기") == ["malenia", "rivers-of-blood"]


# --- typos ----------------------------------------------------------------------------------------


def test_typos_of_long_names_snap_to_the_name(lol, elden):
    match = elden.find("말래니아를 2페에서 잡는 법")[0]  # 래 for 레, and a particle after it
    assert (match.entity_id, match.surface, match.typo) == ("malenia", "말래니아", True)
    assert _ids(lol, "threhs hook timing") == ["thresh"]
    assert _ids(lol, "blitzcrnak hook") == ["blitzcrank"]
    assert _ids(lol, "카시오페야 룬") == ["cassiopeia"]


def test_typo_snapping_leaves_ordinary_words_and_short_names_alone(lol, valorant):
    # one edit from Riven, Sion, Nami, Rell, Brand, Graves, Smite; from Breach, Bind, Ascent, Plant
    assert _ids(lol, "what about the river, sign the name, real grand grave smile") == []
    assert _ids(valorant, "reach the kind of accent when planning") == []
    # a typo one edit from two entities is not guessed, a 4-letter Latin name is never snapped
    assert _ids(lol, "soin top") == ["top"]


def test_a_three_syllable_korean_name_snaps_from_a_slip_of_one_letter(lol, valorant):
    match = lol.find("카직수 정글 진화 순서")[0]  # 수 for 스: one vowel
    assert (match.entity_id, match.surface, match.typo) == ("khazix", "카직수", True)
    assert _ids(lol, "트위츠는 언제 써요") == ["twitch"]  # a final consonant's slip, with a particle after it
    assert _ids(valorant, "체임버 레이나 세이치 조합") == ["chamber", "reyna", "sage"]


def test_a_three_syllable_word_a_whole_syllable_or_an_ordinary_word_away_stays_unknown(lol, valorant, elden):
    assert _ids(lol, "카직바 정글") == ["jungle"]  # 바 for 스: more than one letter
    assert _ids(lol, "라이트 모드 설정") == []  # one letter from 라이즈 (Ryze), but an ordinary word
    assert _ids(valorant, "페이지 넘기는 법") == []  # one letter from 세이지 (Sage)
    assert _ids(elden, "미드나 탑이나 어디든") == []  # 미드 with a particle, one letter from 미드라 (Midra)


def test_a_copula_after_a_korean_name(lol):
    assert _ids(lol, "원딜이 징크스일 때 서폿") == ["adc", "jinx", "support"]
    assert _ids(lol, "야스오면 뭐 가요") == ["yasuo"]


# --- spellings ---------------------------------------------------------------------------------


def test_names_and_name_in_give_the_other_language(elden, lol):
    assert elden.name_in("malenia", "en") == "Malenia"
    assert elden.name_in("malenia", "ko") == "말레니아"
    assert "미켈라의 칼날 말레니아" in elden.names("malenia")
    assert lol.name_in("lee-sin", "ko") == "리 신" and "리신" in lol.names("lee-sin")
    assert lol.names("nobody") == [] and lol.name_in("nobody", "ko") is None


def test_canonical_keeps_the_order_of_a_matchup(lol):
    assert lol.canonical("야스오 상대로 요네") == "⟦yasuo⟧ 상대로 ⟦yone⟧"
    assert lol.canonical("요네 상대로 야스오") == "⟦yone⟧ 상대로 ⟦yasuo⟧"
    assert lol.canonical("Yasuo vs yone") == lol.canonical("야스오 vs 요네") == "⟦yasuo⟧ vs ⟦yone⟧"
    assert lol.canonical("블츠 vs 블리츠크랭크") == "⟦blitzcrank⟧ vs ⟦blitzcrank⟧"


# --- the per-game index (database, cache) ---------------------------------------------------------


@pytest.mark.django_db
def test_the_index_has_catalogue_staff_and_glossary_names(elden_ring):
    catalogue_load(game="elden-ring")
    GlossaryTerm.objects.create(game=elden_ring, term="Let Me Solo Her")  # spelled by an entity: not twice
    GlossaryTerm.objects.create(game=elden_ring, term="가시 덩굴")
    GlossaryTerm.objects.create(game=elden_ring, term="Switched Off", is_active=False)
    entities_changed(game="elden-ring")
    index = entity_index("elden-ring")
    assert _ids(index, "말레니아 가시 덩굴 let me solo her switched off") == [
        "malenia",
        "glossary:가시 덩굴",
        "let-me-solo-her",
    ]
    assert len(entity_index("zelda")) == 0


@pytest.mark.django_db
def test_a_staff_edit_reaches_the_index_at_once_in_this_process(elden_ring):
    catalogue_load(game="elden-ring")
    assert _ids(entity_index("elden-ring"), "말렌 공략") == []
    malenia = Entity.objects.get(game=elden_ring, key="malenia")
    malenia.aliases = [*malenia.aliases, "말렌"]
    entity_staff_save(entity=malenia)
    assert _ids(entity_index("elden-ring"), "말렌 공략") == ["malenia"]


@pytest.mark.django_db(transaction=True)
def test_other_processes_rebuild_when_the_version_changes(elden_ring, settings):
    settings.ENTITY_INDEX_CHECK_SECONDS = 0
    catalogue_load(game="elden-ring")  # committed: the version token is bumped
    assert cache.get(entity_index_version_key("elden-ring"))
    first = entity_index("elden-ring")
    assert entity_index("elden-ring") is first  # same version: no rebuild
    # another process's edit: the row and a new token, this process's copy untouched
    Entity.objects.filter(game=elden_ring, key="malenia").update(aliases=["말렌"], source="staff")
    assert _ids(entity_index("elden-ring"), "말렌") == []
    cache.set(entity_index_version_key("elden-ring"), "from-another-process")
    assert _ids(entity_index("elden-ring"), "말렌") == ["malenia"]


@pytest.mark.django_db
def test_the_async_read_serves_the_same_index_without_rebuilding(elden_ring):
    catalogue_load(game="elden-ring")
    index = async_to_sync(aentity_index)("elden-ring")
    assert [m.entity_id for m in index.find("말레니아")] == ["malenia"]
    assert async_to_sync(aentity_index)("elden-ring") is index
