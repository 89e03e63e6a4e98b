"""The contrast check: a cached question may differ from the asked one by added words, never by swapped ones.

The other checks refuse what they know to look for (a name, a role, a number, a negation, a topic
word); players keep finding contrasts no list holds: good/bad, easy/hard, 떡상/떡락, 키우다/말리다, a trait
the catalogue lacks. What those look-alikes share is a substitution: a word of one question stands where
the other has a different word. What a rewording of the same question mostly does is add or drop words
(filler, courtesy, "best", "좀 알려줘"), move them, misspell them or conjugate them. So, after the canonical
form (names as entity ids, endings and filler gone), the words left on each side that the other lacks are
compared: question and grammar words don't count, a word one letter from the other side's (a typo, a
Korean jamo slip such as 피하/피해, an English ending such as counter/countered) or the same letters spaced
otherwise (한번 / 한 번) pairs off, and if both sides still hold a word, the questions differ in substance.
It refuses some true paraphrases ("루트" / "동선"): a refused hit is one LLM call, a wrong one a wrong answer.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from coach.services.guard.canonical import question_canonical
from coach.services.guard.entities import EntityFinder
from knowledge.entities import jamo_letters, one_edit_apart

# Words that carry how a question is asked, not what it asks about: grammar, question words, requests.
# Relation words and numbers are here because the roles and numbers checks have compared them already.
# Not here, on purpose: negations, comparatives and other words with an opposite (more/less, before/after,
# with), which change what is asked.
_QUESTION_WORDS_TEXT = """
    a an the i im me my mine you u your ur we us our they them their it its this that these those
    to do does did done doing is are am was were be been being get got gets getting have has had
    for of on in at by from about how what whats which who whom whose when why
    should can could would will must might may any some anything something
    tips tip guide help advice way ways thing things stuff pls please plz thanks thx rn currently now today
    just really actually even still also so then there here and or but if
    어떻게 어케 어캐 어떡해 어떡하 뭐 뭘 무엇 뭔 뭔가 뭐가 뭐임 뭐야 뭐예 무슨 어떤 어느 누구 누가
    법 방법 팁 알려 알려주 알려줘 추천 추천좀 좀 해 하 하는 할 함 해야 되 돼 됨 있 있어 있음 있나 거 것 게 수
    나 저 제 내 님 분 분들 이거 그거 요즘 지금 현재
    as vs versus v against into facing 상대 대
    번 번째 첫 두 세 네 one two three first second third
"""
_QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())
# Particles dropped from a Korean word's end before comparing (말레니아를 / 말레니아는 are one word).
_PARTICLES_TEXT = "은 는 이 가 을 를 에 에서 으로 로 도 만 의 랑 이랑 와 과 한테 에게 까지 부터 요"
_PARTICLES = sorted(_PARTICLES_TEXT.split(), key=len, reverse=True)
_WORD = re.compile(r"⟦[^⟧]*⟧|[a-z0-9.'’]+|[가-힣]+")
_ENGLISH_ENDINGS = ("ing", "ed", "es", "s", "d")
# A verb's endings the canonical form keeps (it drops the politeness ones): 가야 (must go), 잡기, 키움.
_KOREAN_ENDINGS = frozenset({"야", "아야", "어야", "고", "서", "면", "지", "기", "음", "게", "는", "은", "을", "던"})


def _bare(word: str) -> str:
    if "가" <= word[0] <= "힣":
        for particle in _PARTICLES:
            if len(word) > len(particle) and word.endswith(particle):
                return word[: -len(particle)]
    return word


_DIGITS = re.compile(r"[\d.]+")


@lru_cache(maxsize=4096)
def _words(text: str, index: EntityFinder | None) -> tuple[str, ...]:
    """The canonical form's words, particles off, digits out (2페이즈 is 페이즈 and the number 2; a numbered
    name such as ⟦phase-2⟧ is left to the numbers check, as the entities check leaves it)."""
    words = (
        _DIGITS.sub("", word) if word[0] != "⟦" else "" if _DIGITS.search(word) else word
        for word in _WORD.findall(question_canonical(text, index))
    )
    return tuple(_bare(word) for word in words if word)


def _english_stem(word: str) -> str:
    for ending in _ENGLISH_ENDINGS:
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)]
    return word


def _same_word(mine: str, theirs: str) -> bool:
    """A typo, a jamo slip, an English ending: the same word written otherwise (never an entity id)."""
    if mine[0] == "⟦" or theirs[0] == "⟦":
        return False
    if "가" <= mine[0] <= "힣" and "가" <= theirs[0] <= "힣":
        short, long = sorted((mine, theirs), key=len)
        if long[: len(short)] == short and long[len(short) :] in _KOREAN_ENDINGS:
            return True  # 가 / 가야, 잡 / 잡기
        return one_edit_apart(jamo_letters(mine), jamo_letters(theirs))
    if mine[0].isascii() and mine[0].isalpha() and theirs[0].isascii() and theirs[0].isalpha():
        mine, theirs = _english_stem(mine), _english_stem(theirs)
        return mine == theirs or (min(len(mine), len(theirs)) >= 4 and one_edit_apart(mine, theirs))
    return False


def words_swapped(asked: str, cached: str, index: EntityFinder | None) -> bool:
    """Whether each question holds a word of substance the other lacks (a substitution, not an addition)."""
    mine, theirs = _words(asked, index), _words(cached, index)
    only_mine = [w for w in (Counter(mine) - Counter(theirs)).elements() if w not in _QUESTION_WORDS]
    only_theirs = [w for w in (Counter(theirs) - Counter(mine)).elements() if w not in _QUESTION_WORDS]
    for word in list(only_mine):
        twin = next((other for other in only_theirs if _same_word(word, other)), None)
        if twin is not None:
            only_mine.remove(word)
            only_theirs.remove(twin)
    # a word on each side left over, unless only the spacing differs ("한번" / "한 번")
    return bool(only_mine and only_theirs) and "".join(mine) != "".join(theirs)
