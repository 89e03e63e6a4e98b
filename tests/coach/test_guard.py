"""The semantic-cache hit guard: what embedding distance cannot tell apart, in Korean and English.

The entity names come from the shipped catalogues (knowledge/catalogue/<game>.json), read into the
same EntityIndex the service builds, so a name the players use is tested as they type it.
"""

import json
from functools import cache
from pathlib import Path

import pytest

from coach.services.guard.canonical import question_canonical
from coach.services.guard.check import guard_check
from coach.services.guard.contrast import words_swapped
from coach.services.guard.entities import entities_in
from coach.services.guard.roles import roles_in, sides_swapped
from coach.services.guard.words import negations_in, numbers_in, topics_in
from knowledge.entities import EntityIndex
from knowledge.sentences import question_language

CATALOGUE = Path(__file__).resolve().parents[2] / "knowledge" / "catalogue"
ELDEN_TERMS = ["Malenia", "Maliketh", "Godrick", "Godfrey", "말레니아", "말리케스", "고드릭", "고드프리", "피의 강"]
LOL_TERMS = ["Yasuo", "Yone", "야스오", "요네", "Vi", "Viego", "카직스", "직스", "리 신", "리신", "Kha'Zix"]


@cache
def catalogue(game: str) -> EntityIndex:
    rows = json.loads((CATALOGUE / f"{game}.json").read_text(encoding="utf-8"))
    return EntityIndex.build(
        [(row["id"], row["kind"], [row["en"], row["ko"], *row.get("aliases", [])]) for row in rows]
    )


def lol(asked, cached):
    return guard_check(asked, cached, index=catalogue("league-of-legends"))


def elden(asked, cached):
    return guard_check(asked, cached, index=catalogue("elden-ring"))


def valorant(asked, cached):
    return guard_check(asked, cached, index=catalogue("valorant"))


# --- same question, other clothes: served ------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (elden, "말레니아 2페이즈 물새춤 피하는 법 알려주세요", "말레니아 2페이즈 물새춤 어떻게 피해요?"),
        (elden, "how to dodge malenia waterfowl dance", "How do I dodge Malenia's Waterfowl Dance?"),
        (elden, "How do I beat Malenia's second phase?", "How to beat Malenia phase 2?"),
        (elden, "말레니아 두 번째 페이즈 회피법", "말레니아 2페이즈 회피법"),
        (lol, "리신 정글 초반 루트", "리 신 초반 정글 루트"),
        (lol, "does yasuo counter yone", "Does Yasuo counter Yone?"),
    ],
)
def test_true_paraphrases_pass_the_guard(check, asked, cached):
    # given a question and its rewording, when the guard compares them, then the cached answer may serve
    assert check(asked, cached).ok


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        # aliases, short forms and the other script's spelling name one entity
        (lol, "노틸 서폿 룬", "노틸러스 서폿 룬"),
        (lol, "Lee Sin 초반 동선", "리신 초반 동선"),
        (lol, "Best runes for Naut support?", "Best runes for Nautilus support?"),
        (lol, "Khazix evolution order?", "Kha'Zix evolution order?"),
        # a typo of a catalogue name is snapped to it
        (elden, "말레니야 물새 난무 어떻게 피해요?", "말레니아 물새 난무 어떻게 피해요?"),
        (lol, "How to land Blitzcrank hokks on Nautilius?", "How to land Blitzcrank hokks on Nautilus?"),
    ],
)
def test_aliases_short_forms_and_typos_of_names_pass_the_guard(check, asked, cached):
    assert check(asked, cached).ok


@pytest.mark.parametrize(
    ("game", "asked", "cached"),
    [
        # Korean politeness levels and filler
        ("elden-ring", "혹시 말레니아 물새 난무 어떻게 피해?ㅠㅠ", "말레니아 물새 난무 어떻게 피해요?"),
        ("elden-ring", "고드릭 쉽게 잡는 법 있음?", "고드릭 쉽게 잡는 법 있습니까?"),
        ("league-of-legends", "그 징크스 코어템 뭐임?", "징크스 코어템 뭐예요?"),
        ("league-of-legends", "형님들 리신 초반 동선 좀 알려줘!!", "리신 초반 동선 알려주세요"),
        ("league-of-legends", "Lee Sin 초반 동선 알려주세요", "리 신 초반 동선 알려줘"),
        # English courtesy, filler and punctuation
        (
            "elden-ring",
            "hey guys, how do I dodge Malenia's Waterfowl Dance??",
            "how do I dodge Malenia Waterfowl Dance",
        ),
        ("league-of-legends", "Could you please tell me Jinx core items?", "jinx core items"),
        ("league-of-legends", "so, Naut support runes please!", "Nautilus support runes"),
    ],
)
def test_the_same_question_in_other_clothes_has_one_canonical_form(game, asked, cached):
    # given a question with other politeness, filler, punctuation or spelling of a name,
    # when both are canonicalised, then they read the same (and so embed the same)
    index = catalogue(game)
    assert question_canonical(asked, index) == question_canonical(cached, index)
    assert guard_check(asked, cached, index=index).ok


def test_canonical_form_names_entities_by_id_and_keeps_what_matters():
    index = catalogue("league-of-legends")
    assert (
        question_canonical("혹시 노틸로 쓰레쉬 상대하는 법 좀 알려주세요ㅠ", index)
        == "⟦nautilus⟧ 로 ⟦thresh⟧ 상대하는 법 알려주"
    )
    assert question_canonical("Doesn't Yasuo's Q work on Yone?", index) == "does not ⟦yasuo⟧ q work on ⟦yone⟧"
    assert question_canonical("patch 14.10 — Jinx?", index) == "patch 14.10 ⟦jinx⟧"


# --- roles: who plays whom ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("Does Yone counter Yasuo?", "Does Yasuo counter Yone?"),
        ("Is Malphite countered by Yasuo?", "Does Malphite counter Yasuo?"),
        ("Yone vs Yasuo matchup", "Yasuo vs Yone matchup"),
        ("How to play Garen into Darius?", "How to play Darius into Garen?"),
        ("How to lane as Jax against Fiora?", "How to lane as Fiora against Jax?"),
        ("how to beat Yasuo as Yone", "how to beat Yone as Yasuo"),
        ("요네가 야스오 카운터예요?", "야스오가 요네 카운터예요?"),
        ("요네로 야스오 상대하는 법", "야스오로 요네 상대하는 법"),
        ("리신 상대로 카직스 어떻게 해요?", "카직스 상대로 리신 어떻게 해요?"),
        ("가렌 vs 다리우스 라인전", "다리우스 vs 가렌 라인전"),
        ("잭스로 피오라 이기는 법", "피오라로 잭스 이기는 법"),
    ],
)
def test_a_reversed_matchup_is_refused(asked, cached):
    # given the same two champions in swapped roles, then the cached answer is not served
    verdict = lol(asked, cached)
    assert (verdict.ok, verdict.reason) == (False, "roles")


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("요네 상대로 야스오 어떻게 해요", "야스오로 요네 상대 어떻게 해요"),
        ("다리우스 상대로 가렌 팁", "가렌으로 다리우스 상대 팁"),
        ("Yone matchup as Yasuo", "Yasuo vs Yone matchup"),
        ("against Yone, how to lane as Yasuo", "how to lane as Yasuo against Yone"),
        ("is Yone countered by Yasuo?", "does Yasuo counter Yone?"),
    ],
)
def test_the_same_matchup_worded_the_other_way_round_passes(asked, cached):
    assert lol(asked, cached).ok


def test_roles_are_read_around_relation_words():
    index = catalogue("league-of-legends")
    assert roles_in("카직스 상대로 리신", index) == (("me", "lee-sin"), ("opp", "khazix"))
    assert roles_in("Does Yasuo counter Yone?", index) == (("countered", "yone"), ("counterer", "yasuo"))
    assert roles_in("야스오 카운터", index) == (("countered", "yasuo"),)
    assert roles_in("Ahri runes vs assassins", index) == (("", "ahri"), ("opp", "?"))
    assert roles_in("Jinx core items", index) == (("", "jinx"),)


# --- entities ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (elden, "How to beat Godfrey?", "How to beat Godrick?"),
        (elden, "고드프리 약점이 뭐예요?", "고드릭 약점이 뭐예요?"),
        (elden, "Best spirit ash for Maliketh?", "Best spirit ash for Malenia?"),
        (elden, "말리케스 2페이즈 패턴", "말레니아 2페이즈 패턴"),
        (lol, "Viego jungle path", "Vi jungle path"),
        (lol, "카이사 코어템", "징크스 코어템"),
    ],
)
def test_a_different_entity_is_refused(check, asked, cached):
    assert check(asked, cached).reason == "entities"


def test_a_plain_list_of_names_still_guards_a_game_without_a_catalogue():
    # given only glossary terms (each its own entity), reversed and other names are still refused
    assert guard_check("Does Yone counter Yasuo?", "Does Yasuo counter Yone?", terms=LOL_TERMS).reason == "roles"
    assert guard_check("How to beat Godfrey?", "How to beat Godrick?", terms=ELDEN_TERMS).reason == "entities"
    assert entities_in("Vi vision ward and Viego", LOL_TERMS) == ["vi", "viego"]
    assert entities_in("리신 인섹", LOL_TERMS) == entities_in("리 신 인섹", LOL_TERMS) == ["리신"]
    assert entities_in("카직스 정글 동선", LOL_TERMS) == ["카직스"]
    assert entities_in("anything", []) == []


# --- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (elden, "Best build at level 60?", "Best build at level 50?"),
        (elden, "레벨 60 출혈 빌드 추천", "레벨 50 출혈 빌드 추천"),
        (elden, "말레니아 1페이즈 공략", "말레니아 2페이즈 공략"),
        (elden, "Malenia third phase", "Malenia second phase"),
        (elden, "세 번째 보스", "두 번째 보스"),
        (lol, "Patch 14.4 jungle tier list", "Patch 14.3 jungle tier list"),
        # versions compare as written: 14.1 is not 14.10, 1.03 is not 1.3, a hotfix is not its patch
        (lol, "Patch 14.10 jungle tier list", "Patch 14.1 jungle tier list"),
        (lol, "14.10 패치 정글 티어", "14.1 패치 정글 티어"),
        (elden, "Moonveil after 1.3 nerf", "Moonveil after 1.03 nerf"),
        (elden, "1.3 너프 이후 문베일", "1.03 너프 이후 문베일"),
        (lol, "14.1b 핫픽스 내용", "14.1 핫픽스 내용"),
        (lol, "Kai'Sa items on v14.9", "Kai'Sa items on v14.8"),
    ],
)
def test_a_changed_number_or_version_is_refused(check, asked, cached):
    assert check(asked, cached).reason == "numbers"


def test_numbers_are_read_from_digits_and_words_in_both_languages():
    assert numbers_in("레벨 50에서 60까지") == ["50", "60"]
    assert numbers_in("1,000 runes at patch 14.3") == ["1000", "14.3"]
    assert numbers_in("second phase, twice") == ["2", "2"]
    assert numbers_in("wait a second, which one is better") == []
    assert numbers_in("첫째 페이즈와 두 번째 페이즈") == ["1", "2"]
    assert numbers_in("한번 알려주세요") == []


def test_versions_are_compared_as_written_and_whole_numbers_exactly():
    assert numbers_in("patch 14.1") != numbers_in("patch 14.10")
    assert numbers_in("1.12.3 패치") == ["1.12.3"]
    assert numbers_in("level 10000001") != numbers_in("level 10000009")
    assert numbers_in("level 05") == numbers_in("level 5")


# --- negation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (elden, "Why doesn't bleed work on Malenia?", "Does bleed work on Malenia?"),
        (elden, "Doesn't bleed work on Malenia?", "Does bleed work on Malenia?"),
        (elden, "How to beat Malenia without spirit ash?", "How to beat Malenia with spirit ash?"),
        (elden, "Where can't I ride Torrent?", "Where can I ride Torrent?"),
        (lol, "Can't Garen beat Darius level 1?", "Can Garen beat Darius level 1?"),
        (lol, "Should Yasuo never build crit?", "Should Yasuo build crit?"),
        (elden, "말레니아 출혈 안 들어가요?", "말레니아 출혈 들어가요?"),
        (elden, "라니 퀘스트 하면 다른 엔딩 못 봐요?", "라니 퀘스트 하면 다른 엔딩 볼 수 있어요?"),
        (elden, "방패 없이 말레니아 잡는 법", "방패 들고 말레니아 잡는 법"),
        (lol, "야스오 치명타 빌드 가면 안 돼요?", "야스오 치명타 빌드 가야 돼요?"),
        (lol, "제드 암살자 템 말고 뭐 가요?", "제드 암살자 템 뭐 가요?"),
        (lol, "리신 레드 시작 하지 마요?", "리신 레드 시작 해도 돼요?"),
        # the prohibitive 말다 in its other forms: 말아야, 말까, 말자
        (elden, "라다곤 상대로 방패 들지 말아야 해요?", "라다곤 상대로 방패 들어야 해요?"),
        (lol, "정글 초반에 인베 가지 말까요?", "정글 초반에 인베 갈까요?"),
        (elden, "말레니아 약하지 않아요?", "말레니아 약해요?"),
        (lol, "Should I skip armor on an eco?", "Should I buy armor on an eco?"),
        (elden, "첫 보스 스킵해도 돼요?", "첫 보스 잡아도 돼요?"),
        # the apostrophe left out, as players type
        (lol, "when shouldnt i flash as yasuo", "when should i flash as yasuo"),
        (lol, "dont build crit on yasuo?", "build crit on yasuo?"),
        (elden, "why cant i summon for malenia", "why can i summon for malenia"),
    ],
)
def test_an_added_or_removed_negation_is_refused(check, asked, cached):
    assert check(asked, cached).reason == "negation"


@pytest.mark.parametrize(
    "text",
    ["성 안에 있는 아이템", "안전하게 파밍하는 법", "이거 아니면 뭐가 좋아요", "안내 NPC 위치", "어떻게 하지 말레니아"],
)
def test_korean_words_that_only_look_negative_are_not_negations(text):
    assert negations_in(text) == 0


def test_a_leading_filler_that_looks_negative_is_not_a_negation():
    # "아니" opening a question is an interjection ("well, ..."), not "not"
    assert elden("아니 고드릭 진짜 쉽게 잡는 법 있나요 ㅋㅋ", "고드릭 쉽게 잡는 법 있나요").ok


# --- topic words and modifiers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (lol, "수비 팀 에코 라운드 언제 해요?", "공격 팀 에코 라운드 언제 해요?"),
        (lol, "수비 팀 에코 라운드 언제 해요?", "에코 라운드 언제 해요?"),
        (elden, "Best frost weapons for a dex build?", "Best bleed weapons for a dex build?"),
        (lol, "Red side jungle path", "Blue side jungle path"),
        (lol, "Yasuo runes", "Yasuo combos"),
        # modifiers that change the subject
        (lol, "Team deathmatch tips", "Deathmatch tips"),
        (lol, "팀 데스매치 팁", "데스매치 팁"),
        (lol, "best duo for bot lane", "best solo champions for bot lane"),
        (lol, "듀오 바텀 조합 추천", "솔로 바텀 조합 추천"),
        (elden, "Malenia tips for co-op", "Malenia tips"),
        (elden, "말레니아 협동 공략", "말레니아 공략"),
        (lol, "best comp for ranked", "best champions for ranked"),
        (lol, "랭크 조합 추천", "랭크 추천 챔프"),
        (lol, "Best defending agents for Ascent", "Best attacking agents for Ascent"),
        (elden, "Best ranged build for Malenia", "Best melee build for Malenia"),
        (elden, "말레니아 원거리 빌드 추천", "말레니아 근접 빌드 추천"),
        (lol, "Best heroes to play on console", "Best heroes to play on PC"),
        (lol, "모바일 추천 설정", "콘솔 추천 설정"),
        (elden, "Best Barbarian endgame build?", "Best Barbarian leveling build?"),
        (elden, "바바리안 엔드게임 빌드", "바바리안 레벨링 빌드"),
        (lol, "딜러 영웅 추천", "탱커 영웅 추천"),
        (lol, "Best tank heroes", "Best healer heroes"),
        (lol, "Mercy healing tips", "Mercy damage boost tips"),
        (lol, "Best guns for a full buy", "Best guns for a force buy"),
        (lol, "풀바이 총 추천", "포스바이 총 추천"),
        (lol, "Kai'Sa evolution items", "Kai'Sa core items"),
        (lol, "카이사 진화 아이템", "카이사 코어 아이템"),
        (lol, "best team comp for ranked", "best comp for ranked"),
        (lol, "랭크 팀 조합 추천", "랭크 조합 추천"),
        # a patch note's direction
        (lol, "what got nerfed in 14.4", "what got buffed in 14.4"),
        (lol, "14.4 하향 챔 뭐 있음?", "14.4 상향 챔 뭐 있음?"),
        (lol, "14.4 너프 먹은 챔", "14.4 버프 받은 챔"),
        # "which comp" is another question than the item or augment alone
        (lol, "보석 연꽃 골라야 되는 덱", "보석 연꽃 언제 골라?"),
    ],
)
def test_a_different_role_rank_side_element_facet_or_modifier_is_refused(check, asked, cached):
    assert check(asked, cached).reason == "topic"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("How do I climb out of silver?", "How do I climb out of bronze?"),
        ("실버 탈출 방법", "브론즈 탈출 방법"),
        ("best duo for bot lane", "best solo queue champions for bot lane"),
        ("듀오 바텀 조합 추천", "솔랭 바텀 조합 추천"),
        ("Jinx ARAM build", "Jinx build"),
        ("징크스 칼바람 빌드", "징크스 빌드"),
        ("how to climb in flex queue", "how to climb in solo queue"),
        ("자랭 티어 올리는 법", "솔랭 티어 올리는 법"),
    ],
)
def test_a_different_rank_queue_or_mode_is_refused(asked, cached):
    # the catalogue names the game's ranks and modes (another is another entity); topic words the rest
    assert not lol(asked, cached).ok


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("아리 상대 룬", "아리 룬"),
        ("야스오 상대 룬", "야스오 룬"),
        ("Ahri runes against assassins", "Ahri runes"),
        ("Yasuo runes vs AD tops", "Yasuo runes"),
    ],
)
def test_an_opponent_modifier_changes_the_question(asked, cached):
    # "runes against X" is not "runes": the relation word counts even with no name beside it
    assert lol(asked, cached).reason == "roles"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("Yasuo build", "Yasuo counters"),
        ("best build for Jinx", "best counter to Jinx"),
        ("what to build on Lee Sin?", "who counters Lee Sin?"),
        ("Zed item build", "Zed counter picks"),
        ("야스오 빌드", "야스오 카운터"),
        ("리신 템트리 뭐예요?", "리신 카운터 뭐예요?"),
        ("리븐 상대 아이템 빌드", "리븐 상대 카운터 픽"),
        ("베인 코어 빌드", "베인 카운터 픽"),
    ],
)
def test_counter_and_build_questions_are_different_questions(asked, cached):
    assert not lol(asked, cached).ok


def test_a_question_in_the_other_language_is_refused_so_the_answer_language_follows_the_question():
    verdict = elden("How do I dodge Malenia's Waterfowl Dance?", "말레니아 물새 난무 회피 방법")
    assert (verdict.ok, verdict.reason) == (False, "language")
    assert question_language("Yasuo 카운터") == "ko"


def test_topics_are_grouped():
    assert topics_in("브론즈 탈출 탑 챔피언") == {"rank": frozenset({"bronze"}), "role": frozenset({"top"})}
    assert topics_in("말레니아 너무 힘들어요") == {}
    assert topics_in("말리케스 공격 패턴") == {}  # an attack pattern is not the attacking side


# --- matchups as players write them ----------------------------------------------------------------
# Each template names the player's pick {a} and the opponent {b} (or the counterer {a} and the countered
# {b}). Within a group every phrasing reads the same roles; the same phrasing with the names swapped is
# a different question and must be refused. "Who wins, A or B" is read in order too: an answer written
# from A's side is not one written from B's side, so order means something even there.
MATCHUP_PAIRS = [("Yasuo", "Yone"), ("Garen", "Darius"), ("Naut", "Thresh")]
MATCHUP_PAIRS_KO = [("야스오", "요네"), ("다리우스", "피오라"), ("노틸", "쓰레쉬")]  # no final consonant: 로, 가
MATCHUP_EN = [
    "{a} vs {b}",
    "{a} vs. {b} matchup",
    "{a} into {b}",
    "{a} against {b}",
    "{a} versus {b}",
    "{a} v {b}",
    "{a} matchup {b}",
    "{a} {b} matchup",
    "{b} matchup as {a}",
    "playing {a} vs {b}",
    "how to beat {b} as {a}",
    "how do I lane against {b} as {a}",
    "as a {a} main how do I play vs {b}",
    "I main {a}, how do I deal with {b}?",
    "{a} main here, {b} is so hard",
    "is {a} good against {b}?",
    "can {a} beat {b}?",
    "does {a} lose to {b}?",
    "who wins {a} or {b}",
    "{a} or {b}, who wins lane?",
    "{a} or {b} who would win",
    "when I'm {a} and the enemy is {b}",
    "{a} tips vs enemy {b}",
    "is {b} a hard matchup for {a}?",
    "any tips for {b} when I'm on {a}",
    "{a} or {b}, which wins the lane",
    "who wins between {a} and {b}",
]
MATCHUP_KO = [
    "{a} {b} 매치업",
    "{a} 대 {b}",
    "{a} vs {b} 라인전",
    "{b} 상대 {a}",
    "{b} 상대로 {a}",
    "{b}한테 {a}",
    "{b}에게 {a} 어때요",
    "{b} 잡는 {a}",
    "{b} 이기는 {a}",
    "{a}로 {b} 상대",
    "{a}로 {b} 어떻게 이겨",
    "{a}로 {b} 잡는 법",
    "{a}가 {b} 이겨요?",
    "{a}가 {b}한테 불리해요?",
    "{a} {b} 누가 이겨요?",
    "{a}인데 {b} 어떻게 해요",
    "{a} 하는데 {b} 너무 세요",
    "{b} 만나면 {a} 어떻게 해",
    "상대 {b} {a}로 어떻게 잡아",
    "{b}전 {a} 팁",
]
COUNTER_EN = [
    "does {a} counter {b}?",
    "is {a} a counter to {b}?",
    "{a} counters {b}",
    "is {b} countered by {a}?",
    "{b} is countered by {a}",
]
COUNTER_KO = [
    "{a}가 {b} 카운터임?",
    "{a}가 {b} 카운터 쳐요?",
    "{b} 카운터 챔 {a}?",
    "{b}는 {a}가 카운터예요?",
]
COUNTER_AS = ["{b} counter as {a}", "how to counter {b} as {a}", "{a}로 {b} 카운터 치는 법"]


def _matchups(templates, pairs):
    """Each template with each pair of names in its language."""
    return [(t, a, b) for t in templates for a, b in pairs if question_language(t) == question_language(a)]


@pytest.mark.parametrize(
    ("template", "a", "b"),
    _matchups(MATCHUP_EN, MATCHUP_PAIRS)
    + _matchups(MATCHUP_KO, MATCHUP_PAIRS_KO)
    + _matchups(COUNTER_EN, MATCHUP_PAIRS)
    + _matchups(COUNTER_KO, MATCHUP_PAIRS_KO)
    + _matchups(COUNTER_AS, MATCHUP_PAIRS + MATCHUP_PAIRS_KO)
    + _matchups(["{a} 카운터 {b}?", "{a} counter {b}"], MATCHUP_PAIRS + MATCHUP_PAIRS_KO),
)
def test_a_matchup_with_its_names_swapped_is_refused_however_it_is_written(template, a, b):
    asked, cached = template.format(a=a, b=b), template.format(a=b, b=a)
    assert lol(asked, cached).reason == "roles"


def _roles(template, a, b):
    return roles_in(template.format(a=a, b=b), catalogue("league-of-legends"))


@pytest.mark.parametrize(
    ("templates", "pairs", "expected"),
    [
        (MATCHUP_EN, MATCHUP_PAIRS, ("me", "opp")),
        (MATCHUP_KO, MATCHUP_PAIRS_KO, ("me", "opp")),
        (COUNTER_EN, MATCHUP_PAIRS, ("counterer", "countered")),
        (COUNTER_KO, MATCHUP_PAIRS_KO, ("counterer", "countered")),
        (COUNTER_AS, MATCHUP_PAIRS, ("me", "countered")),
        (COUNTER_AS, MATCHUP_PAIRS_KO, ("me", "countered")),
    ],
)
def test_every_phrasing_of_a_matchup_reads_the_same_roles(templates, pairs, expected):
    # given many ways to write "A (the player's pick) against B", then each gives A and B the same roles
    index = catalogue("league-of-legends")
    for a, b in pairs:
        ids = [match.entity_id for match in index.find(f"{a} {b}".lower())]
        want = tuple(sorted(zip(expected, ids, strict=True)))
        for template in templates:
            assert _roles(template, a, b) == want, template


@pytest.mark.parametrize(
    "template",
    [
        "{a} 카운터 {b}?",  # "A's counter, B?" or "A counters B?": Korean allows both
        "{a} counter {b}",  # "A's counter is B" or "A counters B"
    ],
)
def test_an_ambiguous_counter_phrasing_matches_only_itself(template):
    # given a phrasing that could mean either direction, then it shares roles with no clear phrasing,
    # so neither reading can serve the other's answer
    for a, b in MATCHUP_PAIRS + MATCHUP_PAIRS_KO:
        roles = _roles(template, a, b)
        for clear in COUNTER_EN + COUNTER_KO + MATCHUP_EN + MATCHUP_KO:
            assert roles not in (_roles(clear, a, b), _roles(clear, b, a)), (template, clear)


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("who does Yasuo counter?", "who counters Yasuo?"),
        ("what does Yasuo counter", "Yasuo counters"),
        ("야스오가 카운터 치는 챔", "야스오 카운터 챔"),
        ("야스오가 이기는 챔", "야스오 이기는 챔"),  # the ones Yasuo beats, the ones that beat Yasuo
        ("야스오가 잡는 챔", "야스오 잡는 챔"),
        ("is Riven hard for Camille?", "Riven Camille lane"),  # no relation word: what joins them counts
        ("Riven or Camille", "Riven and Camille"),
        ("Yasuo beats Yone", "Yone beats Yasuo"),
        ("does Yasuo beat Yone?", "does Yasuo lose to Yone?"),  # the answer's "yes" would mean the opposite
        ("야스오가 요네 이겨요?", "야스오가 요네한테 져요?"),
    ],
)
def test_opposite_directions_of_counter_and_outcome_are_refused(asked, cached):
    assert not lol(asked, cached).ok


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        # Zorblax and Quellmor are in no catalogue: a name the guard cannot read still holds its side
        ("Yasuo vs Zorblax", "Yasuo tips"),
        ("Yasuo vs Zorblax", "Yasuo vs Quellmor"),
        ("Yasuo vs Zorblax", "Zorblax vs Yasuo"),
        ("can Yasuo beat Zorblax?", "can Zorblax beat Yasuo?"),
        ("조르블락스 상대로 야스오", "야스오 상대로 조르블락스"),
        ("조르블락스 상대 야스오", "야스오 상대 조르블락스"),
        ("야스오로 조르블락스 상대", "야스오 공략"),
        ("조르블락스한테 야스오", "야스오한테 조르블락스"),
        ("조르블락스 잡는 야스오", "야스오 잡는 조르블락스"),
        ("조르블락스 잡는 야스오", "야스오 공략"),
        ("Yasuo vs Yone", "Yasuo build"),
        ("Yasuo vs Yone", "Yone tips"),
        ("요네 상대 야스오", "야스오 공략"),
        ("요네 상대 야스오", "요네 공략"),
        ("how to beat Yone as Yasuo", "how to play Yasuo"),
    ],
)
def test_one_side_of_a_matchup_is_not_the_matchup(asked, cached):
    assert not lol(asked, cached).ok


# --- counter vs build: playing a champion, or playing against it ---------------------------------


AGAINST_VS_PLAYING = [
    ("how to play against {x}", "how to play {x}"),
    ("how to beat {x}", "how to play {x}"),
    ("how to deal with {x}", "how to play {x}"),
    ("tips against {x}", "{x} tips"),
    ("enemy {x} tips", "{x} tips"),
    ("counter {x}", "{x} build"),
    ("{x} counters", "{x} runes"),
    ("what to build vs {x}", "what to build on {x}"),
    ("{x} 상대법", "{x} 공략"),
    ("{x} 카운터", "{x} 빌드"),
    ("{x} 카운터", "{x} 템트리"),
    ("{x} 카운터", "{x} 룬"),
    ("{x} 잡는 법", "{x} 하는 법"),
    ("{x} 이기는 법", "{x} 하는 법"),
    ("{x} 상대할 때 팁", "{x} 팁"),
    ("{x} 상대 템트리", "{x} 템트리"),
    ("{x} 만나면 어떻게 해요", "{x} 어떻게 해요"),
    ("상대 {x} 어떻게 해요", "{x} 어떻게 해요"),
    ("{x}전 팁", "{x} 팁"),
    ("{x} 막는 법", "{x} 활용법"),
    ("{x} 뚫는 법", "{x} 하는 법"),
    ("how to break {x}", "how to use {x}"),
    ("how to stop {x}", "how to play {x}"),
]


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        (asked.format(x=name), cached.format(x=name))
        for asked, cached in AGAINST_VS_PLAYING
        for name in ["Yasuo", "Lee Sin", "Naut", "야스오", "리신", "노틸"]
        if question_language(asked) == question_language(name)
    ],
)
def test_playing_against_a_champion_is_not_playing_it(asked, cached):
    assert not lol(asked, cached).ok


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        # "counter X" and "X counters" both ask what beats X: X is the countered one in each
        ("counter Yasuo", "Yasuo counters"),
        ("who counters Yasuo?", "Yasuo counters"),
        ("best counter to Yasuo", "Yasuo counters"),
        ("야스오 카운터 챔", "야스오 카운터"),
        ("야스오 잡는 법", "야스오 상대법"),
        ("how to beat Yasuo", "how to deal with Yasuo"),
        ("how to play Yasuo", "Yasuo tips"),  # one champion named: the player's own
        ("tips as Yasuo", "Yasuo tips"),
        ("Yasuo vs Yone who wins", "who wins Yasuo or Yone"),
        ("야스오의 카운터 요네?", "요네가 야스오 카운터예요?"),
        ("야스오 카운터는 요네?", "야스오는 요네가 카운터예요?"),
        ("요네가 잡기 쉬워요?", "요네 잡기 쉬워요?"),
        ("야스오 요네 매치업", "야스오 vs 요네 매치업"),
        # a question word where a name could stand is no unknown opponent
        ("제드 누구한테 약해요?", "제드 누구한태 약해요?"),
        ("who is jinx weak against", "jinx is weak against whom"),
    ],
)
def test_the_same_side_written_another_way_reads_the_same_roles(asked, cached):
    index = catalogue("league-of-legends")
    assert roles_in(asked, index) == roles_in(cached, index)


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("말레니아 잡는 법", "말레니아 공략"),  # a boss is always the opponent: beating it is its guide
        ("how to beat Malenia", "Malenia guide"),
        ("말레니아전 팁", "말레니아 팁"),
    ],
)
def test_a_boss_is_always_the_opponent(asked, cached):
    index = catalogue("elden-ring")
    assert roles_in(asked, index) == roles_in(cached, index)


@pytest.mark.parametrize(("pairs", "language"), [(MATCHUP_PAIRS, "en"), (MATCHUP_PAIRS_KO, "ko")])
def test_no_phrasing_of_a_matchup_reads_like_any_phrasing_of_its_reverse(pairs, language):
    # given every phrasing above, the roles read for (A, B) and those read for (B, A) never coincide:
    # a question asked one way round is never answered from a question asked the other way round
    templates = [
        t
        for t in MATCHUP_EN + MATCHUP_KO + COUNTER_EN + COUNTER_KO + COUNTER_AS + ["{a} 카운터 {b}?", "{a} counter {b}"]
        if question_language(t) == language
    ]
    for a, b in pairs:
        forward = {_roles(t, a, b) for t in templates}
        backward = {_roles(t, b, a) for t in templates}
        assert not forward & backward, forward & backward


# --- swapped sides, whatever the catalogue knows ---------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (elden, "모독의 검 들고 피의 강 유저 상대 어케 함?", "피의 강 들고 모독의 검 유저 상대 어케 함?"),
        (
            elden,
            "침입할 때 출혈 빌드 쓰는 놈을 대방패로 어케 잡음?",
            "침입할 때 대방패 쓰는 놈을 출혈 빌드로 어케 잡음?",
        ),
        (
            elden,
            "as a katana user how do i fight colossal weapon users in pvp",
            "as a colossal weapon user how do i fight katana users in pvp",
        ),
        (
            elden,
            "pvp tips for a faith build fighting a sorcery build",
            "pvp tips for a sorcery build fighting a faith build",
        ),
        (lol, "트루 데미지 덱으로 펜타킬 덱 이기는 법", "펜타킬 덱으로 트루 데미지 덱 이기는 법"),
        (lol, "frost comp into bruiser comp tips", "bruiser comp into frost comp tips"),
        # a particle's other form on the swapped parts (요들이 / 저거너트가)
        (lol, "요들이 저거너트한테 약해요?", "저거너트가 요들한테 약해요?"),
        (lol, "does the yordle comp lose to the juggernaut comp", "does the juggernaut comp lose to the yordle comp"),
    ],
)
def test_two_sides_swapped_around_the_same_words_are_refused(check, asked, cached):
    assert check(asked, cached).reason == "sides"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("우리 팀이 풀바이고 상대가 에코일 때 어떻게 해요", "상대 팀이 풀바이고 우리가 에코일 때 어떻게 해요"),
        ("what to do when we are on eco and they full buy", "what to do when they are on eco and we full buy"),
    ],
)
def test_swapped_sides_are_refused_even_where_the_relation_words_named_the_same_sides(asked, cached):
    # the catalogue knows eco and full buy, and the relation words may read both questions alike
    assert valorant(asked, cached).reason in ("roles", "sides")
    assert not valorant(asked, asked).reason


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("꼬마 거인 증강 리롤덱에서 좋음?", "리롤덱에서 꼬마 거인 증강 좋음?"),  # moved, nothing between
        ("jinx and lulu synergy", "lulu and jinx synergy"),
        ("징크스랑 룰루 시너지", "룰루랑 징크스 시너지"),
        ("in teamfights who should i shield first as lulu", "as lulu who should i shield first in teamfights"),
        ("how to dodge waterfowl dance malenia", "how to dodge malenia waterfowl dance"),
    ],
)
def test_parts_moved_without_a_relation_between_them_are_no_swap(asked, cached):
    assert not sides_swapped(asked, cached)


def test_named_sides_read_by_the_relation_words_decide_before_the_words_order():
    # the particles carry the sides: the same matchup, though the letters swapped places
    assert lol("야스오로 요네 상대 어떻게 해요", "요네 상대로 야스오 어떻게 해요").ok


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (lol, "what to build on kayn when behind", "what to build on kayn when ahead"),
        (lol, "케인 밀릴 때 템트리", "케인 앞서 있을 때 템트리"),
        (lol, "리롤덱 연패할 때 운영 어케 함?", "리롤덱 연승할 때 운영 어케 함?"),
        (lol, "how to play a loss streak in tft", "how to play a win streak in tft"),
        (lol, "how to play a losing streak in tft", "how to play a win streak in tft"),
        (lol, "how to use astra wall pre plant", "how to use astra wall post plant"),
        (lol, "아스트라 벽 설치 전 활용", "아스트라 벽 설치 후 활용"),
        (lol, "요즘 1티어 덱이 뭐임?", "요즘 1티어 증강이 뭐임?"),  # 덱 with its particle
    ],
)
def test_the_other_side_of_the_game_is_another_question(check, asked, cached):
    assert check(asked, cached).reason == "topic"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("how to stop a c rush on haven", "how to pull off a c rush on haven"),
        ("체임버 셋업 어케 뚫음?", "체임버 셋업 어케 함?"),
        ("체임버 셋업 막는 법", "체임버 셋업 하는 법"),
    ],
)
def test_beating_something_the_catalogue_does_not_name_is_not_doing_it(asked, cached):
    assert not guard_check(asked, cached, index=catalogue("valorant")).ok


# --- a word of substance swapped for another -------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (lol, "which junglers are bad at invading level 1", "which junglers are good at invading level 1"),
        (lol, "top laners that are hard for teemo", "top laners that are easy for teemo"),
        (lol, "14.12 패치 떡락한 챔 뭐 있음?", "14.12 패치 떡상한 챔 뭐 있음?"),
        (lol, "마스터이 정글 어케 말림?", "마스터이 정글 어케 키움?"),
        (elden, "best sword for a quality build", "best spear for a quality build"),  # names the catalogue lacks
        (elden, "말레니아 2페 칼 추천", "말레니아 2페 창 추천"),
    ],
)
def test_a_word_swapped_for_another_is_refused(check, asked, cached):
    assert check(asked, cached).reason == "contrast"


@pytest.mark.parametrize(
    ("check", "asked", "cached"),
    [
        (lol, "룰루 서폿 템틑리 알려줘", "룰루 서폿 템트리 알려줘"),  # a jamo slip
        (lol, "리신 동섬 추천", "리신 동선 추천"),
        (elden, "말레니아 물새 피하는 법", "말레니아 물새 피해는 법"),  # conjugated otherwise
        (lol, "who counters yasuo the best", "who countered yasuo best"),  # an English ending
        (lol, "best strenght build for garen", "best strength build for garen"),
        (lol, "가렌 한번 해볼까", "가렌 한 번 해볼까"),  # spaced otherwise
        (lol, "quick question what should i build on jinx rn", "what to build on jinx"),  # words added
        (elden, "아 진짜 너무 어려운데 말레니아 잡는 법 좀", "말레니아 잡는 법"),
    ],
)
def test_words_added_misspelt_or_conjugated_are_no_contrast(check, asked, cached):
    index = catalogue("elden-ring" if check is elden else "league-of-legends")
    assert not words_swapped(asked, cached, index)


def test_a_synonym_is_refused_a_cost_accepted():
    # "루트" and "동선" mean the same, but no list can tell a synonym from an opposite: a refused hit costs a call
    assert lol("리신 정글 초반 루트", "리신 정글 초반 동선").reason == "contrast"
