"""The semantic-cache hit guard: what embedding distance cannot tell apart, in Korean and English."""

import pytest

from coach.services.guard import entities_in, guard_check, negations_in, numbers_in, question_language, topics_in

ELDEN = ["Malenia", "Maliketh", "Godrick", "Godfrey", "말레니아", "말리케스", "고드릭", "고드프리", "피의 강"]
LOL = ["Yasuo", "Yone", "야스오", "요네", "Vi", "Viego", "카직스", "직스", "리 신", "리신", "Kha'Zix"]


def refused(asked, cached, terms=ELDEN):
    return guard_check(asked, cached, terms=terms)


@pytest.mark.parametrize(
    ("asked", "cached", "terms"),
    [
        ("말레니아 2페이즈 물새춤 피하는 법 알려주세요", "말레니아 2페이즈 물새춤 어떻게 피해요?", ELDEN),
        ("how to dodge malenia waterfowl dance", "How do I dodge Malenia's Waterfowl Dance?", ELDEN),
        ("How do I beat Malenia's second phase?", "How to beat Malenia phase 2?", ELDEN),
        ("말레니아 두 번째 페이즈 회피법", "말레니아 2페이즈 회피법", ELDEN),
        ("리신 정글 초반 루트", "리 신 초반 정글 동선", LOL),
        ("does yasuo counter yone", "Does Yasuo counter Yone?", LOL),
        ("피의 강 얻는 곳 어디예요", "피의 강 어디서 얻어요?", ELDEN),
    ],
)
def test_true_paraphrases_pass_the_guard(asked, cached, terms):
    # given a question and its rewording, when the guard compares them, then the cached answer may serve
    assert guard_check(asked, cached, terms=terms).ok


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("Does Yone counter Yasuo?", "Does Yasuo counter Yone?"),
        ("요네가 야스오 카운터예요?", "야스오가 요네 카운터예요?"),
        ("요네로 야스오 상대하는 법", "야스오로 요네 상대하는 법"),
    ],
)
def test_reversed_matchup_is_refused(asked, cached):
    verdict = guard_check(asked, cached, terms=LOL)
    assert not verdict.ok
    assert verdict.reason == "entities"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("How to beat Godfrey?", "How to beat Godrick?"),
        ("고드프리 약점이 뭐예요?", "고드릭 약점이 뭐예요?"),
        ("Best spirit ash for Maliketh?", "Best spirit ash for Malenia?"),
        ("말리케스 2페이즈 패턴", "말레니아 2페이즈 패턴"),
    ],
)
def test_a_different_boss_is_refused(asked, cached):
    assert refused(asked, cached).reason == "entities"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("Best build at level 60?", "Best build at level 50?"),
        ("레벨 60 출혈 빌드 추천", "레벨 50 출혈 빌드 추천"),
        ("말레니아 1페이즈 공략", "말레니아 2페이즈 공략"),
        ("Patch 14.4 jungle tier list", "Patch 14.3 jungle tier list"),
        ("Malenia third phase", "Malenia second phase"),
        ("세 번째 보스", "두 번째 보스"),
    ],
)
def test_a_changed_number_is_refused(asked, cached):
    assert refused(asked, cached).reason == "numbers"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("Why doesn't bleed work on Malenia?", "Does bleed work on Malenia?"),
        ("How to beat Malenia without spirit ash?", "How to beat Malenia with spirit ash?"),
        ("Where can't I ride Torrent?", "Where can I ride Torrent?"),
        ("Should I not use Rivers of Blood for PvP?", "Should I use Rivers of Blood for PvP?"),
        ("말레니아 출혈 안 들어가요?", "말레니아 출혈 들어가요?"),
        ("라니 퀘스트 하면 다른 엔딩 못 봐요?", "라니 퀘스트 하면 다른 엔딩 볼 수 있어요?"),
        ("방패 없이 말레니아 잡는 법", "방패 들고 말레니아 잡는 법"),
        ("야스오 치명타 빌드 가면 안 돼요?", "야스오 치명타 빌드 가야 돼요?"),
        ("제드 암살자 템 말고 뭐 가요?", "제드 암살자 템 뭐 가요?"),
        ("그 빌드 쓰지 마세요?", "그 빌드 쓰세요?"),
        ("말레니아 약하지 않아요?", "말레니아 약해요?"),
    ],
)
def test_an_added_or_removed_negation_is_refused(asked, cached):
    assert refused(asked, cached).reason == "negation"


@pytest.mark.parametrize(
    "text", ["성 안에 있는 아이템", "안전하게 파밍하는 법", "이거 아니면 뭐가 좋아요", "안내 NPC 위치"]
)
def test_korean_words_that_only_look_negative_are_not_negations(text):
    assert negations_in(text) == 0


def test_a_question_in_the_other_language_is_refused_so_the_answer_language_follows_the_question():
    verdict = guard_check("How do I dodge Malenia's Waterfowl Dance?", "말레니아 물새 난무 회피 방법", terms=ELDEN)
    assert (verdict.ok, verdict.reason) == (False, "language")
    assert question_language("Yasuo 카운터") == "ko"


@pytest.mark.parametrize(
    ("asked", "cached"),
    [
        ("어센트 B 사이트 수비", "어센트 A 사이트 수비"),
        ("How do I climb out of silver?", "How do I climb out of bronze?"),
        ("수비 팀 에코 라운드 언제 해요?", "공격 팀 에코 라운드 언제 해요?"),
        ("수비 팀 에코 라운드 언제 해요?", "에코 라운드 언제 해요?"),
        ("Best frost weapons for a dex build?", "Best bleed weapons for a dex build?"),
        ("Red side jungle path", "Blue side jungle path"),
        ("Yasuo runes", "Yasuo combos"),
    ],
)
def test_a_different_role_rank_side_element_or_facet_is_refused(asked, cached):
    assert guard_check(asked, cached, terms=LOL).reason == "topic"


def test_numbers_are_read_from_digits_and_words_in_both_languages():
    assert numbers_in("레벨 50에서 60까지") == ["50", "60"]
    assert numbers_in("1,000 runes at patch 14.3") == ["1000", "14.3"]
    assert numbers_in("second phase, twice") == ["2", "2"]
    assert numbers_in("wait a second, which one is better") == []
    assert numbers_in("첫째 페이즈와 두 번째 페이즈") == ["1", "2"]
    assert numbers_in("한번 알려주세요") == []


def test_long_numbers_are_compared_exactly_not_to_six_digits():
    assert numbers_in("level 10000001") != numbers_in("level 10000009")
    assert guard_check("damage at level 10000001?", "damage at level 10000009?", terms=()).ok is False
    assert numbers_in("patch 14.30 and 2.0") == numbers_in("patch 14.3 and 2")


def test_entities_are_read_longest_first_in_order_with_word_edges_for_latin_names():
    assert entities_in("카직스 정글 동선", LOL) == ["카직스"]
    assert entities_in("직스 미드", LOL) == ["직스"]
    assert entities_in("Vi vision ward and Viego", LOL) == ["vi", "viego"]
    assert entities_in("야스오가 요네를 이겨요?", LOL) == ["야스오", "요네"]
    assert entities_in("리신 인섹", LOL) == entities_in("리 신 인섹", LOL) == ["리신"]
    assert entities_in("Kha'Zix path", LOL) == ["kha'zix"]
    assert entities_in("anything", []) == []


def test_topics_are_grouped():
    assert topics_in("브론즈 탈출 탑 챔피언") == {"rank": frozenset({"bronze"}), "role": frozenset({"top"})}
    assert topics_in("말레니아 너무 힘들어요") == {}
