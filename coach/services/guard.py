"""The semantic-cache hit guard: a near vector is reused only for the same numbers, entities and negation.

Embedding distance cannot tell "does Yasuo counter Yone" from "does Yone counter Yasuo", "level 50"
from "level 60", Godrick from Godfrey, or a question from its negation (issue 6). These pure
functions compare what distance misses; a cached answer is served only when every check agrees.
A refused hit costs one LLM call, a wrong hit costs the player a wrong answer, so each check errs
towards refusing. Korean and English.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_NO_SPACE = re.compile(r"\s+")

# --- numbers ----------------------------------------------------------------------------------
# "1,000" and "1000" are one number; "14.3" (a patch) stays a decimal; "2페이즈" and "phase 2" agree.
_NUMBER = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])|\d+(?:\.\d+)?")
# Spelled-out numbers that players use for phases, levels and counts. "one" is left out on
# purpose ("which one is better"), and "second" only counts before a game noun ("wait a second").
_ENGLISH_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "twenty": 20, "hundred": 100,
    "first": 1, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
    "once": 1, "twice": 2, "thrice": 3, "double": 2, "triple": 3, "half": 0.5,
}  # fmt: skip
_ENGLISH_NUMBER = re.compile(r"\b(" + "|".join(sorted(_ENGLISH_WORDS, key=len, reverse=True)) + r")\b")
_ENGLISH_SECOND = re.compile(r"\bsecond\s+(?:phase|stage|form|half|boss|round|part|map|dragon|item|skill)\b")
# Korean ordinals and native counts: 첫 번째 / 두 번째 페이즈, 둘째, 세 번, 두 개.
# "한 번" is left out: "한번 알려줘" means "please tell me", not "once".
_KOREAN_WORDS = {"첫": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
_KOREAN_NUMBER = re.compile(
    r"(?<![가-힣])("
    + "|".join(sorted(_KOREAN_WORDS, key=len, reverse=True))
    + r")\s?(?:번째|번|개|명|마리|판|단계|페이즈|레벨)"
)
_KOREAN_ORDINAL = re.compile(r"(?<![가-힣])(첫|둘|셋|넷)째")
_KOREAN_ORDINAL_VALUES = {"첫": 1, "둘": 2, "셋": 3, "넷": 4}

# --- negation ---------------------------------------------------------------------------------
_ENGLISH_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|neither|nor|without|cannot|except|excluding|instead of)\b"
    r"|n't\b|n’t\b"
)
# Korean negation lives in verb endings and particles, so these match inside words:
# 안 (short negation: "안 돼", "안맞아"), 못 (inability), 않 (long negation), 없 (absence),
# 아니/아닌 (copula negation; "아니면" = "or else" is not one), 말고 ("not X but"), 지 마 (don't),
# 빼고/제외/없이 (without). 안 only counts before a space or a verb stem, so 안전/안내/성 안에 do not.
_KOREAN_NEGATION = re.compile(
    r"(?:^|(?<=\s))안(?=\s|되|돼|됨|됩|통|맞|먹|들|나와|나오|나옴|써|쓰|해|하|보이|보여|뜨|떠|죽|잡|깨|열|풀|가|와|좋|아프|올라|오르|붙|걸|박)"
    r"|(?:^|(?<=\s))못(?!생)"
    r"|않|없|아니(?!면)|아닌|아님|아냐|말고|지\s?마|빼고|제외|금지|불가"
)


# --- contrasting topic words ----------------------------------------------------------------------
# Game-agnostic words that fill the same slot and change the answer: a role, a rank, a side, a site,
# a timing, a difficulty, an element, a stat, what is asked about. The per-game glossary holds the
# names (bosses, champions, items); these are the words it would not. Both questions must use the
# same ones: "when to eco" may not answer "when to eco on defense" (the benchmark measured that
# demanding equality costs about one point of hit rate and removes those wrong hits).
_TOPIC_WORDS: dict[str, dict[str, str]] = {
    "role": {
        "top": r"\btop\b|탑",
        "mid": r"\bmid\b|미드",
        "bot": r"\b(?:bot|bottom|adc)\b|바텀|봇|원딜",
        "support": r"\bsupp(?:ort)?\b|서폿|서포터",
        "jungle": r"\bjungle\b|정글",
    },
    "rank": {
        "iron": r"\biron\b|아이언",
        "bronze": r"\bbronze\b|브론즈",
        "silver": r"\bsilver\b|실버",
        "gold": r"\bgold\b|골드",
        "platinum": r"\bplat(?:inum)?\b|플래티넘|플레",
        "emerald": r"\bemerald\b|에메랄드",
        "diamond": r"\bdiamond\b|다이아",
        "master": r"\bmasters?\b|마스터",
        "challenger": r"\bchallenger\b|챌린저",
    },
    "team_side": {"blue": r"\bblue\b|블루", "red": r"\bred\b|레드"},
    "attack_defense": {
        "attack": r"\battack(?:ing|er|ers)?\b|공격",
        "defense": r"\bdefen(?:se|d|ding|der|ders)\b|수비|방어",
    },
    "site": {"a": r"\ba\s*(?:site|사이트)", "b": r"\bb\s*(?:site|사이트)", "c": r"\bc\s*(?:site|사이트)"},
    "timing": {
        "before": r"\bbefore\b|전에",
        "after": r"\bafter\b|후에|이후|깬\s?후|다음에",
        "early": r"\bearly\b|초반",
        "late": r"\blate\b|후반",
    },
    "difficulty": {
        "easy": r"\beasy mode\b|이지",
        "normal": r"\bnormal\b|노말",
        "hard": r"\bhard mode\b|하드",
        "chaos": r"\bchaos\b|카오스",
        "extreme": r"\bextreme\b|익스트림",
    },
    "element": {
        "bleed": r"\bbleed\w*|출혈",
        "frost": r"\bfrost\w*|냉기",
        "poison": r"\bpoison\w*|(?<![가-힣])독",
        "rot": r"\brot\b|부패",
        "fire": r"\bfire\b|화염",
        "lightning": r"\blightning\b|번개",
        "holy": r"\bholy\b|신성",
        "magic": r"\bmagic\b|마법",
    },
    "stat": {
        "strength": r"\b(?:strength|str)\b|힘(?!들)",
        "dexterity": r"\b(?:dexterity|dex)\b|기량",
        "intelligence": r"\b(?:intelligence|int)\b|지력",
        "faith": r"\bfaith\b|신앙",
        "arcane": r"\barcane\b|신비",
        "vigor": r"\bvigor\b|생명력",
        "mind": r"\bmind\b|정신력",
        "endurance": r"\bendurance\b|지구력",
    },
    "facet": {
        "runes": r"\brunes?\b|룬",
        "items": r"\bitems?\b|코어템|아이템|템트리",
        "combo": r"\bcombos?\b|콤보",
        "skill_order": r"\bskill order\b|스킬\s?순서|선마",
        "rewards": r"\b(?:drops?|rewards?)\b|보상|드랍",
        "weakness": r"\bweak(?:ness|nesses)?\b|약점",
        "resistance": r"\bresist\w*|내성",
        "lineup": r"\blineups?\b|라인업",
        "location": r"\b(?:where|location)\b|어디|위치",
        "teleport": r"\bteleport\w*|순간이동",
        "smoke": r"\bsmokes?\b|연막",
    },
    "mode": {"solo": r"\bsolo\b|솔로|솔랭", "duo": r"\bduo\b|듀오", "pvp": r"\bpvp\b", "pve": r"\bpve\b"},
}
_TOPIC_PATTERNS = [(group, member, re.compile(pattern)) for group, members in _TOPIC_WORDS.items()
                   for member, pattern in members.items()]  # fmt: skip


@dataclass(frozen=True)
class GuardVerdict:
    """Whether a cached question may answer the asked one; `reason` names the first check that failed."""

    ok: bool
    reason: str | None = None


def question_normalize(text: str) -> str:
    """NFKC, casefold and single spaces: the form every check reads."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def question_language(text: str) -> str:
    """ "ko" when the question has Hangul, else "en": the answer's language follows the question's."""
    return "ko" if _HANGUL.search(text) else "en"


def numbers_in(text: str) -> list[str]:
    """Every number the question mentions, digits or words, as canonical strings, sorted.

    Sorted rather than in order: a paraphrase may move "level 50" to the end; what must never
    match is a different number.
    """
    text = question_normalize(text)
    found: list[Decimal] = []  # exact: "level 10000001" and "level 10000009" must stay different
    for match in _NUMBER.finditer(text):
        found.append(Decimal(match.group().replace(",", "")))
    for match in _ENGLISH_NUMBER.finditer(text):
        found.append(Decimal(_ENGLISH_WORDS[match.group(1)]))
    found += [Decimal(2)] * len(_ENGLISH_SECOND.findall(text))
    for match in _KOREAN_NUMBER.finditer(text):
        found.append(Decimal(_KOREAN_WORDS[match.group(1)]))
    for match in _KOREAN_ORDINAL.finditer(text):
        found.append(Decimal(_KOREAN_ORDINAL_VALUES[match.group(1)]))
    return sorted(format(value.normalize(), "f") for value in found)


@lru_cache(maxsize=256)
def _entity_pattern(terms: tuple[str, ...]) -> re.Pattern | None:
    """One alternation, longest term first, so "카직스" wins over "직스" and "Godfrey" never reads "God".

    Latin-script edges need a word boundary ("Vi" is not in "vision"); Hangul edges do not, since
    particles attach to names ("말레니아는", "야스오가"). Spaces inside a term are optional
    ("리 신" also reads "리신").
    """
    parts = []
    for term in sorted({question_normalize(t) for t in terms if t and t.strip()}, key=len, reverse=True):
        escaped = r"\s*".join(re.escape(part) for part in term.split(" "))
        if re.match(r"[a-z0-9]", term):
            escaped = r"(?<![a-z0-9])" + escaped
        if re.search(r"[a-z0-9]$", term):
            escaped += r"(?![a-z0-9])"
        parts.append(escaped)
    if not parts:
        return None
    return re.compile("|".join(parts))


def entities_in(text: str, terms: list[str] | tuple[str, ...]) -> list[str]:
    """The glossary terms the question names, in the order it names them.

    Compared without spaces, so the glossary's spellings "리 신" and "리신" name one champion.
    """
    pattern = _entity_pattern(tuple(terms))
    if pattern is None:
        return []
    return [_NO_SPACE.sub("", match.group()) for match in pattern.finditer(question_normalize(text))]


def negations_in(text: str) -> int:
    """How many negation cues the question holds (English and Korean)."""
    text = question_normalize(text)
    return len(_ENGLISH_NEGATION.findall(text)) + len(_KOREAN_NEGATION.findall(text))


def topics_in(text: str) -> dict[str, frozenset[str]]:
    """The contrasting topic words the question uses, by group: {"role": {"top"}, "rank": {"bronze"}}."""
    text = question_normalize(text)
    found: dict[str, set[str]] = {}
    for group, member, pattern in _TOPIC_PATTERNS:
        if pattern.search(text):
            found.setdefault(group, set()).add(member)
    return {group: frozenset(members) for group, members in found.items()}


_CHECKS = ("language", "numbers", "entities", "negation", "topic")


@lru_cache(maxsize=4096)
def _facts(text: str, terms: tuple[str, ...]) -> tuple:
    """What guard_check compares, in _CHECKS' order. Cached: a lookup checks one question against
    up to k cached ones, and popular cached questions come up again and again."""
    return (question_language(text), numbers_in(text), entities_in(text, terms), negations_in(text), topics_in(text))


def guard_check(asked: str, cached: str, *, terms: list[str] | tuple[str, ...]) -> GuardVerdict:
    """May the answer to `cached` be served for `asked`? Same language, numbers, entities in order, negation
    and topic words."""
    terms = tuple(terms)
    for check, mine, theirs in zip(_CHECKS, _facts(asked, terms), _facts(cached, terms), strict=True):
        if mine != theirs:
            return GuardVerdict(False, check)
    return GuardVerdict(True)
