"""Recognise a game's entity names in text: Korean and English spellings, short forms, particles, typos.

Pure Python and built once per game (knowledge.selectors.entity_index), so find() can run on every
question: names go into one character trie of their spellings with the spaces taken out, and the
text is walked token by token (a token is a run of ASCII letters and digits, or of Hangul syllables).

- A name starts at a token. Latin names end at a token's end ("ashe" is not in "smashed"), case-insensitive.
- A name's own word boundaries may be typed or not ("리 신" / "리신", "Kha'Zix" / "khazix"); the text
  may not split a word the name has whole ("as he" is not Ashe).
- A Korean name may end inside its token when what follows is particles or a few nouns players glue
  on (말레니아를, 리신으로, 쓰레쉬랑은, 요네상대로); the match covers the name only.
- With no exact match at a token, a token (or its stem before particles) one edit from a name
  (substitution, insertion, deletion, swap of neighbours) is snapped to it: Hangul names and tokens of
  4+ syllables, Latin ones of 5+ letters, since a 4-letter Latin name sits one edit from ordinary
  words too often (Sion/sign, Nami/name, Rell/real, Bind/kind, Pyke/poke). A 3-syllable Korean name
  snaps only from one letter (jamo) off in one syllable (카직수 -> 카직스). Ordinary words that are one
  edit from a name (ORDINARY_WORDS, from the shipped list) and names of other entities are never
  snapped, nor a token close to two entities.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

_TOKEN = re.compile(r"[0-9A-Za-z]+|[\uac00-\ud7a3]+")
# What may stand between two words of one name in the text: spaces and the punctuation of names
# (Kha'Zix, Dr. Mundo, Nunu & Willump, KAY/O, Jarvan-IV), or nothing (2페이즈: digits, then Hangul).
_GAP = re.compile(r"[\s'’.\-/&·:,]{0,4}")

# Particles and endings that follow a Korean name, and nouns players glue to one; a name may be
# followed by up to three of them (말레니아한테는, 요네상대로, 리신정글은 is not: 정글 is its own name).
_KO_SUFFIX_WORDS = """
은 는 이 가 을 를 의 에 에서 에게 한테 께 로 으로 와 과 랑 이랑 하고 도 만 까지 부터 처럼 보다 이나 나
이든 든 요 이요 이야 이에요 예요 이다 다 입니다 인데 인가 인가요 냐 이냐 라 이라 라는 이라는 라고 이라고
한테서 에게서 같이 같은 만큼 밖에 뿐 마다 조차 마저 대로 보고 더러 이며 며 이고 고 인지 지
전 상대 카운터 공략 빌드 템 템트리 룬 룬세팅 픽 장인 유저 패턴 스킬 콤보 잡기 잡는 잡는법 잡을 이상 이하 급 구간 티어
판 게임 특성 증강 덱 조합 시너지 들 님 씨 일 이면 면
"""
KO_SUFFIXES = frozenset(_KO_SUFFIX_WORDS.split())
_KO_SUFFIX_MAX = max(len(s) for s in KO_SUFFIXES)

TYPO_MIN_HANGUL = 4
TYPO_MIN_LATIN = 5
# A 3-syllable Korean name snaps only from a slip of one letter (jamo) in one syllable: 카직수 -> 카직스,
# 격노겸 -> 격노검. One whole syllable off is too often another word at that length.
TYPO_MIN_HANGUL_JAMO = 3

_ORDINARY_FILE = Path(__file__).resolve().parent / "catalogue" / "ordinary_words.txt"


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


@lru_cache(maxsize=4096)
def _is_suffix(rest: str, pieces: int = 3) -> bool:
    """Whether `rest` is one to `pieces` of KO_SUFFIXES in a row."""
    if rest in KO_SUFFIXES:
        return True
    if pieces <= 1:
        return False
    for size in range(1, min(_KO_SUFFIX_MAX, len(rest) - 1) + 1):
        if rest[:size] in KO_SUFFIXES and _is_suffix(rest[size:], pieces - 1):
            return True
    return False


def name_tokens(name: str) -> list[str]:
    """A name's words as the index compares them: lower case, punctuation and spaces dropped."""
    return [token.lower() for token in _TOKEN.findall(name)]


def ordinary_words() -> frozenset[str]:
    """The shipped list of ordinary words that typo snapping must leave alone (one word a line, # comments)."""
    return _ordinary_words_load()


@lru_cache(maxsize=1)
def _ordinary_words_load() -> frozenset[str]:
    try:
        lines = _ORDINARY_FILE.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return frozenset()
    return frozenset(w.lower() for line in lines for w in line.split("#", 1)[0].split())


def one_edit_apart(a: Sequence[object], b: Sequence[object]) -> bool:
    """Whether a and b (strings, or any sequences) differ by at most one substitution, insertion, deletion or
    swap of neighbours."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # one substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _jamo(syllable: str) -> tuple[int, int, int]:
    """A Hangul syllable's initial consonant, vowel and final consonant (0: none)."""
    code = ord(syllable) - 0xAC00
    return code // 588, code % 588 // 28, code % 28


def jamo_letters(word: str) -> tuple[tuple[str, int], ...]:
    """A word's letters with each Hangul syllable spelled out (initial, vowel, final if any), so one edit is
    one jamo slip (피하 / 피해, 동선 / 동섬); other characters stand for themselves."""
    letters: list[tuple[str, int]] = []
    for ch in word:
        if _is_hangul(ch):
            initial, vowel, final = _jamo(ch)
            letters += [("initial", initial), ("vowel", vowel)] + ([("final", final)] if final else [])
        else:
            letters.append(("char", ord(ch)))
    return tuple(letters)


def _typo_of(word: str, name: str) -> bool:
    """Whether `word` is a typo of `name`: one edit away, and for a short Korean name one letter (jamo)
    of one syllable (initial, vowel or final consonant, a final added or dropped)."""
    if len(name) >= TYPO_MIN_HANGUL or not _is_hangul(name[-1]):
        return one_edit_apart(word, name)
    if len(word) != len(name) or not all(_is_hangul(ch) for ch in word) or word[-1] in KO_SUFFIXES:
        return False  # a word ending in a particle is most often a 2-syllable word and it (미드가, 탑이)
    return word != name and one_edit_apart(jamo_letters(word), jamo_letters(name))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Match(NamedTuple):
    entity_id: str
    kind: str
    start: int
    end: int
    surface: str  # the text as written, text[start:end]
    typo: bool = False  # snapped to a name one edit away


class _Node:
    __slots__ = ("accept", "boundary", "children")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.accept: tuple[str, str] | None = None  # (entity id, kind)
        self.boundary = False  # some name has a word boundary here: the text may go on in its next token


class EntityIndex:
    """The names of one game's entities; build() once, then find(), canonical(), names(), name_in()."""

    def __init__(self) -> None:
        self._root = _Node()
        self._names: dict[str, list[str]] = {}
        self._kinds: dict[str, str] = {}
        self._typo_keys: dict[str, set[str]] = {}  # a delete-variant (or the name) -> joined names
        self._joined: dict[str, tuple[str, str]] = {}  # joined name -> (entity id, kind)
        self._ordinary: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, entities: list[tuple[str, str, list[str]]], *, ordinary: frozenset[str] | None = None
    ) -> EntityIndex:
        """From (id, kind, names) triples. When two entities share a spelling, the earlier one keeps it."""
        index = cls()
        index._ordinary = ordinary_words() if ordinary is None else ordinary
        for entity_id, kind, names in entities:
            spellings = index._names.setdefault(entity_id, [])
            index._kinds.setdefault(entity_id, kind)
            for name in names:
                name = " ".join(name.split())
                if name and name not in spellings:
                    spellings.append(name)
                    index._add(entity_id, index._kinds[entity_id], name)
        for joined in index._joined:
            if len(joined) >= (TYPO_MIN_HANGUL_JAMO if _is_hangul(joined[-1]) else TYPO_MIN_LATIN):
                for key in (joined, *_deletes(joined)):
                    index._typo_keys.setdefault(key, set()).add(joined)
        return index

    def _add(self, entity_id: str, kind: str, name: str) -> None:
        tokens = name_tokens(name)
        if not tokens:
            return
        joined = "".join(tokens)
        if joined in self._joined:
            return  # an earlier entity has this spelling
        self._joined[joined] = (entity_id, kind)
        node = self._root
        for position, token in enumerate(tokens):
            if position:
                node.boundary = True
            for ch in token:
                node = node.children.setdefault(ch, _Node())
        node.accept = (entity_id, kind)

    # --- reads ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, entity_id: str) -> bool:
        return entity_id in self._names

    def names(self, entity_id: str) -> list[str]:
        """Every spelling of the entity (English, Korean, aliases), as written; [] for an unknown id."""
        return list(self._names.get(entity_id, ()))

    def name_in(self, entity_id: str, language: str) -> str | None:
        """The entity's first spelling in "ko" (Hangul) or "en" (no Hangul), or None."""
        want_korean = language == "ko"
        for name in self._names.get(entity_id, ()):
            if any(_is_hangul(ch) for ch in name) == want_korean:
                return name
        return None

    def kind(self, entity_id: str) -> str | None:
        return self._kinds.get(entity_id)

    def find(self, text: str) -> list[Match]:
        """The entity names in `text`, in text order, not overlapping; at each place the longest name."""
        tokens = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
        matches: list[Match] = []
        i, count = 0, len(tokens)
        while i < count:
            found = self._exact_at(text, tokens, i)
            if found is None:
                found = self._typo_at(tokens[i], i)
            if found is None:
                i += 1
                continue
            entity_id, kind, start, end, last, typo = found
            matches.append(Match(entity_id, kind, start, end, text[start:end], typo))
            i = last + 1
        return matches

    def canonical(self, text: str) -> str:
        """`text` with every name replaced by ⟦entity id⟧ ("요네 상대로 야스오" -> "⟦yone⟧ 상대로 ⟦yasuo⟧")."""
        parts, previous = [], 0
        for match in self.find(text):
            parts.append(text[previous : match.start])
            parts.append(f"⟦{match.entity_id}⟧")
            previous = match.end
        parts.append(text[previous:])
        return "".join(parts)

    # --- matching -------------------------------------------------------------------------------

    def _exact_at(self, text: str, tokens: list[tuple[int, int, str]], i: int):
        """The longest name starting at token i: (id, kind, start, end, last token, False), or None."""
        node: _Node | None
        node, best, j = self._root, None, i
        while True:
            start, end, token = tokens[j]
            hangul = _is_hangul(token[0])
            length = len(token)
            for k, ch in enumerate(token, 1):
                node = node.children.get(ch)
                if node is None:
                    return best
                if node.accept and k < length and hangul and _is_suffix(token[k:]):
                    best = (*node.accept, tokens[i][0], start + k, j, False)
            if node.accept:
                best = (*node.accept, tokens[i][0], end, j, False)
            if not node.boundary or j + 1 >= len(tokens):
                return best
            gap_end = tokens[j + 1][0]
            if gap_end - end > 4 or not _GAP.fullmatch(text, end, gap_end):
                return best
            j += 1

    def _typo_at(self, token: tuple[int, int, str], i: int):
        """A name one edit from token i (or its stem before particles), as _exact_at says it, or None."""
        start, _, word = token
        hangul = _is_hangul(word[0])
        minimum = TYPO_MIN_HANGUL_JAMO if hangul else TYPO_MIN_LATIN
        stems = [word]
        if hangul:
            stems += [word[:k] for k in range(len(word) - 1, minimum - 1, -1) if _is_suffix(word[k:])]
        for stem in stems:
            if len(stem) < minimum or stem in self._ordinary or stem in self._joined:
                continue
            candidates: set[str] = set()
            for key in (stem, *_deletes(stem)):
                candidates |= self._typo_keys.get(key, set())
            entities = {self._joined[name] for name in candidates if _typo_of(stem, name)}
            if len(entities) == 1:
                entity_id, kind = entities.pop()
                return entity_id, kind, start, start + len(stem), i, True
            if entities:
                return None  # close to two entities: no guess
        return None
