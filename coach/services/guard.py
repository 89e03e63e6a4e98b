"""The semantic-cache hit guard: a near vector is reused only for the same question in other clothes.

Embedding distance cannot tell "does Yasuo counter Yone" from "does Yone counter Yasuo", patch 14.1
from 14.10, Godrick from Godfrey, "아리 룬" from "아리 상대 룬", or a question from its negation
(issues 6 and 23). These pure functions compare what distance misses: the game's entities (from its
catalogue: knowledge.entities.EntityIndex) and the role each plays around relation words (vs, into,
against, counters, 상대로, 카운터, 으로/로), numbers as written, negation, and topic words (a role, a
rank, a queue, a modifier such as team or duo, counter vs build). A cached answer is served only when
every check agrees. A refused hit costs one LLM call, a wrong hit costs the player a wrong answer, so
each check errs towards refusing.

question_canonical() is the form negation and topic words are read from: names replaced by their
entity ids, Korean politeness endings, filler and punctuation dropped, so "혹시 말레니야 물새 난무
어떻게 피해요?ㅠ" and "Malenia 물새 난무 어떻게 피해" read the same. (Embedding it instead of the raw
question, as the cache's key, was measured in bench/semantic_cache.py and did not pay: see semantic.py.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from knowledge.sentences import question_language

_NO_SPACE = re.compile(r"\s+")


class EntityMatch(Protocol):
    @property
    def entity_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class EntityFinder(Protocol):
    """What the guard needs of a game's entity index (knowledge.entities.EntityIndex has it); hashable,
    since the guard's caches are keyed on it."""

    def find(self, text: str) -> Sequence[EntityMatch]: ...

    def __hash__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TermMatch:
    entity_id: str
    kind: str
    start: int
    end: int


class TermIndex:
    """A plain list of names as an entity index, each name its own entity: for a game with no catalogue
    (the glossary's terms) and for callers that only have names."""

    def __init__(self, terms: list[str] | tuple[str, ...]):
        self._pattern = _entity_pattern(tuple(terms))

    def find(self, text: str) -> list[TermMatch]:
        if self._pattern is None:
            return []
        return [TermMatch(_NO_SPACE.sub("", m.group()), "term", m.start(), m.end())
                for m in self._pattern.finditer(text)]  # fmt: skip


@lru_cache(maxsize=256)
def _entity_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
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


@lru_cache(maxsize=64)
def term_index(terms: tuple[str, ...]) -> TermIndex:
    """The TermIndex of these names, built once."""
    return TermIndex(terms)


@dataclass(frozen=True)
class GuardVerdict:
    """Whether a cached question may answer the asked one; `reason` names the first check that failed."""

    ok: bool
    reason: str | None = None


def question_normalize(text: str) -> str:
    """NFKC, casefold and single spaces: the form every check reads."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# --- canonical form -----------------------------------------------------------------------------
# Filler: words that add nothing to what is asked, as whole words. "그" goes too: before a noun it is
# "that", which nothing cached can resolve; English courtesy phrases go only at the start.
_KOREAN_FILLER = re.compile(
    r"(?:^|(?<=\s))(?:혹시|그|좀|저기|저기요|근데|그런데|님들|형님들|형들|여러분|진짜|정말|제발|다들|그냥)(?=\s|$)"
    r"|^아니\s+|좀요(?=\s|$)|[ㅋㅎㅠㅜ\u110f\u1112\u116e\u1172]+"  # NFKC turns ㅠ into U+1172
)
_ENGLISH_FILLER = re.compile(
    r"^(?:(?:so|um+|uh+|ok|okay|hey|hi|hello|yo|like|well|guys|quick question)\b[\s,:!]*)+"
    r"|\b(?:please|pls|plz|guys|lol|kindly)\b"
    r"|^(?:(?:could|can|would|will)\s+you\s+(?:please\s+|kindly\s+)?(?:tell|show|explain|let)\s+me\s+"
    r"|(?:could|can|would|will)\s+you\s+(?:please\s+|kindly\s+|mind\s+)?(?:explain|explaining|recommend)\s+"
    r"|may\s+i\s+ask\s+|i\s+would\s+like\s+to\s+know\s+|i\s+want\s+to\s+know\s+|tell\s+me\s+)"
)
# Korean politeness and speech-level endings at a word's end: 피해요/피해?/피하나요 -> 피해/피하;
# 뭐예요/뭐임 -> 뭐; 있습니까/있음 -> 있; 알려주세요/알려줘 -> 알려주.
_KOREAN_ENDING = re.compile(
    r"(?<=[가-힣])(?:습니까|습니다|인가요|이에요|예요|에요|인가|나요|까요|세요|셔요|지요|죠|냐|요|임|음)(?=\s|$)"
)
_KOREAN_ENDING_SWAP = [(re.compile(r"(?<=[가-힣])줘(?=\s|$)"), "주"), (re.compile(r"(?<=[가-힣])함(?=\s|$)"), "하"),
                       (re.compile(r"(?<=[가-힣])됨(?=\s|$)"), "되")]  # fmt: skip
_POSSESSIVE = re.compile(r"^['’]s\b|(?<=\w)['’]s\b")
_NOT = re.compile(r"n['’]t\b")  # "doesn't" -> "does not": the negation outlives the apostrophe
_PUNCTUATION = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)|_")


@lru_cache(maxsize=4096)
def _names(text: str, index: EntityFinder | None) -> tuple[EntityMatch, ...]:
    """The names in the (normalised) text, in order; canonicalisation and roles both read them."""
    return tuple(sorted(index.find(text), key=lambda m: m.start)) if index is not None else ()


def _tidy(piece: str) -> str:
    return _PUNCTUATION.sub(" ", _POSSESSIVE.sub("", _NOT.sub(" not", piece)))


@lru_cache(maxsize=4096)
def question_canonical(text: str, index: EntityFinder | None = None) -> str:
    """The question as the guard compares it: names as ⟦entity id⟧ (aliases, short forms and typos of
    catalogue names included), Korean politeness endings, filler and punctuation gone."""
    text = question_normalize(text)
    parts, previous = [], 0
    for match in _names(text, index):
        if match.start >= previous:
            parts += [_tidy(text[previous : match.start]), f"⟦{match.entity_id}⟧"]
            previous = match.end
    parts.append(_tidy(text[previous:]))
    text = " ".join(" ".join(parts).split())
    text = " ".join(_ENGLISH_FILLER.sub(" ", text).split())
    text = " ".join(_KOREAN_FILLER.sub(" ", text).split())
    text = _KOREAN_ENDING.sub("", text)
    for pattern, replacement in _KOREAN_ENDING_SWAP:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


# --- numbers ----------------------------------------------------------------------------------
# "1,000" and "1000" are one number; "2페이즈" and "phase 2" agree. A number with a dot is a patch or a
# version and compares as written: 14.1 is not 14.10, 1.03 is not 1.3, 14.1b is not 14.1.
_NUMBER = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])|(?<![\d.])\d+(?:\.\d+)+[a-z]?(?![a-z\d])|\d+")
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


def numbers_in(text: str) -> list[str]:
    """Every number the question mentions, digits or words, as canonical strings, sorted.

    Sorted rather than in order: a paraphrase may move "level 50" to the end; what must never
    match is a different number. Whole numbers compare as numbers ("05" is 5), dotted ones as written.
    """
    text = question_normalize(text)
    found: list[str] = []
    for match in _NUMBER.finditer(text):
        written = match.group()
        if "." in written:
            found.append(written)
        else:  # exact: "level 10000001" and "level 10000009" must stay different
            found.append(format(Decimal(written.replace(",", "")), "f"))
    found += [_number(_ENGLISH_WORDS[m.group(1)]) for m in _ENGLISH_NUMBER.finditer(text)]
    found += ["2"] * len(_ENGLISH_SECOND.findall(text))
    found += [_number(_KOREAN_WORDS[m.group(1)]) for m in _KOREAN_NUMBER.finditer(text)]
    found += [_number(_KOREAN_ORDINAL_VALUES[m.group(1)]) for m in _KOREAN_ORDINAL.finditer(text)]
    return sorted(found)


def _number(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


# --- negation ---------------------------------------------------------------------------------
_ENGLISH_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|neither|nor|without|cannot|except|excluding|instead of|skip\w*)\b"
    r"|n't\b|n’t\b"
    # contractions typed without the apostrophe ("when shouldnt i ult"); "cant" and "wont" are rarely
    # anything else in a question
    r"|\b(?:dont|doesnt|didnt|cant|wont|shouldnt|couldnt|wouldnt|isnt|arent|wasnt|werent|havent|hasnt|aint)\b"
)
# Korean negation lives in verb endings and particles, so these match inside words:
# 안 (short negation: "안 돼", "안맞아"), 못 (inability), 않 (long negation), 없 (absence),
# 아니/아닌 (copula negation; "아니면" = "or else" is not one), 말고 ("not X but"), 지 마 (don't),
# 빼고/제외/없이 (without). 안 only counts before a space or a verb stem, so 안전/안내/성 안에 do not.
_KOREAN_NEGATION = re.compile(
    r"(?:^|(?<=\s))안(?=\s|되|돼|됨|됩|통|맞|먹|들|나와|나오|나옴|써|쓰|해|하|보이|보여|뜨|떠|죽|잡|깨|열|풀|가|와|좋|아프|올라|오르|붙|걸|박)"
    r"|(?:^|(?<=\s))못(?!생)"
    r"|않|없|아니(?!면)|아닌|아님|아냐|말고|지\s?마|빼고|제외|금지|불가|스킵|건너뛰|거르"
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
        "jungle": r"\bjungl\w*|\bjgl?\b|정글",
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
        # a side of the round, not "attack pattern" or "defense stat"
        "attack": r"\battack(?:ing|ers?)\b|\battack\s+(?:side|team|round)|\bon attack\b|공격\s?(?:팀|측|진영|턴)",
        "defense": r"\bdefen(?:d|ding|ders?)\b|\bdefen[sc]e\s+(?:side|team|round)|\bon defen[sc]e\b"
        r"|수비|방어\s?(?:팀|측|진영|턴)",
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
        # what to build and what counters it are different answers (counter vs build)
        "build": r"\bbuild\w*|\bitems?\b|빌드|코어템|아이템|템트리|(?<![가-힣])템(?![가-힣])",
        "counter": r"\bcounter\w*|카운터",
        "comp": r"\bcomps?\b|\bcompositions?\b|조합|덱(?![가-힣])",
        "evolution": r"\bevol\w*|진화",
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
    "range": {"ranged": r"\branged?\b|원거리", "melee": r"\bmelee\b|근접|근거리"},
    "platform": {
        "console": r"\bconsoles?\b|콘솔|\bps[45]\b|\bxbox\b",
        "pc": r"\bpc\b|컴퓨터",
        "mobile": r"\bmobile\b|모바일",
    },
    "stage": {
        "leveling": r"\blevel(?:l)?ing\b|레벨링|육성",
        "endgame": r"\bend\s?game\b|엔드\s?(?:게임|콘텐츠|컨텐츠)",
    },
    "hero_role": {
        "tank": r"\btanks?\b|탱커|(?<![가-힣])탱(?![가-힣])",
        "damage": r"\bdps\b|\bdamage dealers?\b|딜러",
        "healer": r"\bhealers?\b|힐러",
    },
    "effect": {
        "heal": r"\bheal(?:s|ing)?\b|치유|(?<![가-힣])힐(?![러])",
        "boost": r"\bboost\w*",
    },
    "buy": {
        "full": r"\bfull[\s-]?buy\b|풀\s?바이",
        "force": r"\bforce[\s-]?buy\b|포스\s?바이",
        "half": r"\bhalf[\s-]?buy\b|하프\s?바이",
        "eco": r"\beco\b|에코",
    },
    # A patch note's direction: "what got nerfed in 14.4" is not "what got buffed in 14.4".
    "change": {
        "buff": r"\bbuff(?:s|ed|ing)?\b|버프|상향",
        "nerf": r"\bnerf(?:s|ed|ing)?\b|너프|하향",
        "rework": r"\brework\w*|리워크|리메이크",
    },
    # Losing is the other side of winning: "does Yasuo lose to Yone" may not take the answer to "does Yasuo
    # beat Yone" (its "yes" would mean the opposite). Weak is a facet above ("weakness").
    "outcome": {"lose": r"\blos(?:e|es|ing)\b|(?<![가-힣])(?:지는|져|밀려|밀리|불리|약해|약하|약한|약함)"},
    # Modifiers that change whom or what the question is about: a team mode, a queue, playing alone.
    "mode": {
        "solo": r"\bsolo\b(?!\s?q)|솔로(?!\s?랭)|솔플",
        "duo": r"\bduo\b|듀오",
        "team": r"\bteam\b|(?<![가-힣])팀(?![원파])",
        "coop": r"\bco[\s-]?op\b|협동|멀티",
        "summons": r"\bsummons?\b|소환(?!사)",
        "pvp": r"\bpvp\b",
        "pve": r"\bpve\b",
    },
    "queue": {
        "solo_queue": r"\bsolo\s?q\w*|솔랭|솔로\s?랭크",
        "flex": r"\bflex\b|자랭|자유\s?랭크",
        "ranked": r"\branked\b|(?<![가-힣])랭크|랭겜",
        "normal": r"\bnormals?\b|일반\s?게임|일겜|(?<![가-힣])일반(?![가-힣])",
        "aram": r"\baram\b|칼바람",
    },
}
# One alternation per group (a member is a named group): 15 searches a question rather than 70.
_TOPIC_PATTERNS = [(group, re.compile("|".join(f"(?P<{member}>{pattern})" for member, pattern in members.items())))
                   for group, members in _TOPIC_WORDS.items()]  # fmt: skip


# --- roles ------------------------------------------------------------------------------------
# Around a relation word the order of two names decides whose side the player is on: "Yasuo vs Yone",
# "Yasuo into Yone", "Yasuo against Yone", "Yone matchup as Yasuo", "how to beat Yone as Yasuo", "야스오로
# 요네 상대", "요네 상대로 야스오", "요네한테 야스오", "요네 잡는 야스오" all have Yasuo as the player's pick
# ("me") and Yone as the opponent ("opp"); "does Yasuo counter Yone", "요네가 야스오 카운터예요" make one the
# counterer and the other the countered. A relation word with no name beside it still changes the
# question ("아리 룬" is not "아리 상대 룬"): it counts as an unnamed opponent.
#
# The rules, in the order they claim a name (the first claim stands):
#   countered by  B countered by A                  B countered, A counterer
#   counter       does A counter B / A counters B / A가 B 카운터 / B 카운터 챔 A / B는 A가 카운터
#                 A counterer, B countered; "A counter(s)", "counter A", "A 카운터": A countered;
#                 "who does A counter", "A가 카운터 치는": A counterer; "A 카운터 B", "A counter B" (no
#                 article, auxiliary or "to"): either direction, so a role of their own
#   versus        A vs/v/versus/against/into/대 B, facing/deal with B     A me, B opp
#   상대          B 상대(로) A: B opp, A me; 상대 B (no name before): B opp
#   한테/에게     B한테 A                            B opp
#   lose to       A loses to B                       A me, B opp
#   beat verbs    A beats B, how to beat B; B 잡는/이기는 A      A me, B opp
#   markers       as (a) A, I main A, I'm (on) A, A main, (a hard matchup) for A, A로, A인데, A 하는데    A me
#                 enemy B, B 만나면, B전                                      B opp
# A relation word whose other side is a word the catalogue does not know ("Yasuo vs Smolder", "스몰더 상대로
# 야스오") keeps that word as an unnamed opponent ("?smolder"), so the question is neither "Yasuo" alone nor
# the same matchup the other way round.
# Then a name left without a role takes the other side of a named one of its kind ("Yone matchup as
# Yasuo"); two names of a kind with none, beside a matchup word ("A B 매치업", "who wins A or B"), are me and
# opp in order; a question whose only side is "me" is about playing that one ("as Yasuo" is "Yasuo"), and a
# boss is always the opponent ("말레니아 잡는 법" is "말레니아 공략"), so neither gets a side.
# Order means something even in "who wins, A or B": an answer written from A's side is not one from B's.
_VERSUS = re.compile(
    r"(?<![a-z])(?:vs\.?|versus|v\.?(?=\s)|against|into|facing|deal(?:ing)?\s+with)(?![a-z])|(?<![가-힣])대(?=\s)"
)
_VERSUS_ALONE = re.compile(r"(?<![a-z])(?:vs\.?|versus|against)(?![a-z])")  # no name beside it: a modifier
_KOREAN_OPPONENT = re.compile(r"상대(?:로|하|해|할|를|에|편|팀)?")
_KOREAN_TO = re.compile(r"(?:한테|에게)(?![가-힣])")
_COUNTERED_BY = re.compile(r"(?<![a-z])countered\s+by(?![a-z])")
_COUNTER = re.compile(r"(?<![a-z])counter(?:s|ing)?(?![a-z])|카운터")
_AUXILIARY = re.compile(r"(?<![a-z])(?:does|do|did|can|could|will|would|should)\s+$")
_LOSE_TO = re.compile(r"(?<![a-z])(?:lose|loses|losing)\s+(?:to|against)(?![a-z])")
_BEAT = re.compile(
    r"(?<![a-z])(?:beat|beats|beating|kill|kills|killing|handle|handling|punish|punishing|stop|stopping"
    r"|shut\s+down|outplay|outplaying|fight|fighting|break|breaking)(?![a-z])"
    r"|잡(?:는|기|을|아|나|음|고|으려)|(?<![가-힣])(?:이기|이겨|이김|이길|이긴|때려잡|죽이|파훼|막는|막기|막으|막을|뚫는|뚫기)"
)
_ME_BEFORE = re.compile(
    r"(?<![a-z])(?:as(?:\s+an?)?|i\s+(?:play|main|am)|i'?m(?:\s+playing|\s+on)?|i\s+am\s+(?:playing|on)|playing(?:\s+as|\s+on)?"
    r"|when\s+i\s+play|(?:matchup|match-up|hard|tough|difficult|easy|annoying|unplayable|favou?rable)\s+for)\s+$"
)
_ME_AFTER = re.compile(
    r"\s+(?:main|otp|one[\s-]?trick)(?![a-z])|(?:으로|로)(?![가-힣])"
    r"|\s?(?:인데|하는데|할\s?때|픽인데|유저인데|장인인데|원챔인데|주챔인데)"
)
_OPP_BEFORE = re.compile(r"(?<![a-z])(?:enemy(?:\s+is)?|opposing|opponent(?:'?s)?(?:\s+is)?)\s+$")
_OPP_AFTER = re.compile(r"\s?(?:만나면|만났을|만날|나오면|나왔을|나올)|전(?![가-힣])")
_MATCHUP = re.compile(
    r"(?<![a-z])(?:match[\s-]?ups?|who\s+(?:wins|would\s+win|will\s+win|is\s+stronger)|who's\s+stronger|which\s+(?:one\s+)?wins)(?![a-z])"
    r"|매치업|상성|누가\s?(?:이기|이겨|이김|더|셈|쎔|세)"
)
# After a subject particle a Korean beat verb's name is the one who beats: "야스오가 이기는 챔" (the ones
# Yasuo beats), not "야스오 이기는 챔" (the ones that beat Yasuo); "요네가 잡기 쉬워요" stays Yone beaten.
_KOREAN_BEATS = frozenset({"이기", "이겨", "이김", "이길", "이긴", "잡는", "잡아", "잡을", "잡나", "잡음", "잡고"})
_ALWAYS_OPPONENT = frozenset({"boss"})  # a player never plays it: beating it is its guide
# What may stand between a name and its relation word: articles, copulas, particles, a verdict word.
_GAP_WORDS = frozenset({
    "is", "are", "a", "an", "the", "s", "to", "for", "of", "good", "strong", "weak", "bad", "really", "so", "pick",
    "picks", "enemy", "opposing", "가", "이", "은", "는", "의", "을", "를", "랑", "이랑", "와", "과",
})  # fmt: skip
_GAP_TOKEN = re.compile(r"[a-z]+|[가-힣]+|\d+")
_SUBJECT = ("가", "이")
# Words that sit where an unknown name could: question words and adverbs, not names.
_NOT_A_NAME = frozenset({
    "how", "what", "who", "why", "when", "which", "everyone", "everything", "anyone", "them", "him", "her", "it",
    "어떻게", "어케", "어캐", "누가", "뭐", "뭘", "왜", "언제", "잘", "너무", "진짜", "정말", "쉽게", "빨리", "그냥",
    "계속", "자꾸", "맨날", "못", "안", "누구", "누굴", "누구를", "누구랑", "무엇", "무엇을", "어디", "어느", "whom",
})  # fmt: skip
_COUNTER_NOUN = frozenset({"a", "an", "good", "to", "for"})  # "is A a counter to B": a noun, so a direction
_OTHER_SIDE = {"me": "opp", "opp": "me", "counterer": "countered", "countered": "counterer"}


def _gap_ok(gap: str) -> bool:
    return len(gap) <= 24 and all(token in _GAP_WORDS for token in _GAP_TOKEN.findall(gap))


def _beside(text: str, matches: Sequence[EntityMatch], start: int, end: int) -> tuple[int | None, int | None]:
    """The names just before and just after text[start:end] (indices into matches), if any."""
    left = right = None
    for i, match in enumerate(matches):
        if match.end <= start and _gap_ok(text[match.end : start]):
            left = i
        if match.start >= end and right is None and _gap_ok(text[end : match.start]):
            right = i
    return left, right


def roles_in(text: str, index: EntityFinder | None) -> tuple[tuple[str, str], ...]:
    """(role, entity id) for each name the question uses, sorted, with ("opp", "?") for a relation word
    that names no one. Names without a relation word have no role ("" ); two or more of one kind
    without roles keep their order ("#1", "#2"), since "야스오 요네 라인전" may be a matchup too."""
    text = question_normalize(text)
    return _roles(text, _names(text, index))


def _roles(text: str, matches: tuple[EntityMatch, ...]) -> tuple[tuple[str, str], ...]:
    roles: dict[int, str] = {}
    unnamed = False
    unknown: set[str] = set()  # the word where a relation word expects a name the catalogue does not have

    def mark(i: int | None, role: str) -> None:
        if i is not None:
            roles.setdefault(i, role)

    if not matches:
        return (("opp", "?"),) if _VERSUS_ALONE.search(text) or _KOREAN_OPPONENT.search(text) else ()
    for found in _COUNTERED_BY.finditer(text):
        left, right = _beside(text, matches, found.start(), found.end())
        mark(left, "countered")
        mark(right, "counterer")
    for found in _COUNTER.finditer(text):
        left, right = _beside(text, matches, found.start(), found.end())
        word = found.group()
        before = _GAP_TOKEN.findall(text[matches[left].end : found.start()]) if left is not None else []
        after = _GAP_TOKEN.findall(text[found.end() : matches[right].start]) if right is not None else []
        asked_of = word != "카운터" and left is not None and _AUXILIARY.search(text, 0, matches[left].start)
        if left is not None and right is not None:
            if word in ("counters", "countering") or asked_of or _COUNTER_NOUN.intersection(before + after):
                mark(left, "counterer")  # "does Yasuo counter Yone", "is Yone a counter to Yasuo"
                mark(right, "countered")
            elif word == "카운터" and ("의" in before or after):
                mark(left, "countered")  # "야스오의 카운터 요네", "야스오 카운터는 요네": Yone counters Yasuo
                mark(right, "counterer")
            else:  # "야스오 카운터 요네", "yasuo counter yone": Yone counters Yasuo, or Yasuo counters Yone
                mark(left, "counter-either-1")
                mark(right, "counter-either-2")
        elif left is not None:
            if asked_of or (word == "카운터" and before[:1] in (["가"], ["이"])):
                mark(left, "counterer")  # "who does Yasuo counter", "요네는 야스오가 카운터", "야스오가 카운터 치는"
            else:
                mark(left, "countered")  # "Yasuo counters", "야스오 카운터": the ones that beat Yasuo
        else:
            mark(right, "countered")  # "counter Jinx", "counter to Jinx"
    for found in _VERSUS.finditer(text):
        left, right = _beside(text, matches, found.start(), found.end())
        mark(left, "me")
        mark(right, "opp")
        if left is None and right is None and _VERSUS_ALONE.fullmatch(found.group()):
            unnamed = True
        elif right is None and left is not None:  # "Yasuo vs Smolder", Smolder not in the catalogue
            unknown.add(_word_after(text, found.end()))
    for found in _KOREAN_OPPONENT.finditer(text):
        left, right = _beside(text, matches, found.start(), found.end())
        word_before = _word_before(text, found.start()) if left is None else ""
        if word_before in _NOT_A_NAME:
            word_before = ""
        mark(left, "opp")
        # "요네 상대 야스오": Yasuo plays Yone; "상대 요네" is the opposing Yone; "스몰더 상대로 야스오": a word the
        # catalogue lacks is the opponent
        mark(right, "me" if left is not None or word_before else "opp")
        if left is None:
            unknown.add(word_before)
            unnamed = unnamed or right is None
    for found in _KOREAN_TO.finditer(text):
        left, _ = _beside(text, matches, found.start(), found.end())
        if left is not None and matches[left].end == found.start():
            mark(left, "opp")
        elif left is None:
            unknown.add(_word_before(text, found.start()))
    for pattern in (_LOSE_TO, _BEAT):
        for found in pattern.finditer(text):
            left, right = _beside(text, matches, found.start(), found.end())
            if found.group()[0] < "\uac00":  # English: subject, verb, object
                mark(left, "me")
                mark(right, "opp")
                if left is not None and right is None:
                    unknown.add(_word_after(text, found.end()))
            else:  # Korean: object, verb; "요네 잡는 야스오": Yasuo is the one who beats
                subject = left is not None and text[matches[left].end : found.start()].strip() in _SUBJECT
                mark(left, "me" if subject and found.group() in _KOREAN_BEATS else "opp")
                mark(right, "me")
                if left is None:
                    unknown.add(_word_before(text, found.start()))
    for i, match in enumerate(matches):
        if _ME_AFTER.match(text, match.end) or _ME_BEFORE.search(text, 0, match.start):
            mark(i, "me")
        elif _OPP_AFTER.match(text, match.end) or _OPP_BEFORE.search(text, 0, match.start):
            mark(i, "opp")
    if roles:  # the other name of a matchup plays the other side: "Yone matchup as Yasuo"
        sides = {(role, matches[i].kind) for i, role in roles.items()}
        for i, match in enumerate(matches):
            if i in roles:
                continue
            other = [_OTHER_SIDE[role] for role, kind in sides if kind == match.kind and role in _OTHER_SIDE
                     and (_OTHER_SIDE[role], kind) not in sides]  # fmt: skip
            if len(set(other)) == 1:
                roles[i] = other[0]
    plain = [i for i in range(len(matches)) if i not in roles]
    kinds = {matches[i].kind for i in plain}
    if (
        len(plain) == 2
        and len(kinds) == 1
        and _MATCHUP.search(text)
        and not any(matches[i].kind in kinds for i in roles)
    ):
        roles[plain[0]], roles[plain[1]] = "me", "opp"  # "A B 매치업", "who wins A or B"
    for i, match in enumerate(matches):
        if match.kind in _ALWAYS_OPPONENT and roles.get(i) in ("me", "opp"):
            del roles[i]
    if set(roles.values()) == {"me"}:  # one side only: playing that champion
        roles.clear()
    plain_by_kind: dict[str, int] = {}
    for i, match in enumerate(matches):
        if i not in roles:
            plain_by_kind[match.kind] = plain_by_kind.get(match.kind, 0) + 1
    seen: dict[str, int] = {}
    previous: dict[str, int] = {}
    out = []
    for i, match in enumerate(matches):
        role = roles.get(i, "")
        if not role and plain_by_kind[match.kind] > 1:
            # names in order with no relation word: what joins them is part of the order's meaning, so
            # "Riven hard for Camille" is not "Riven Camille 라인전" though both put Riven first
            seen[match.kind] = seen.get(match.kind, 0) + 1
            joined = ""
            if match.kind in previous:
                joined = " ".join(_GAP_TOKEN.findall(text[matches[previous[match.kind]].end : match.start]))
            role = f"#{seen[match.kind]}" + (f":{joined}" if joined else "")
            previous[match.kind] = i
        out.append((role, match.entity_id))
    if unnamed and "opp" not in roles.values():
        out.append(("opp", "?"))
    if "opp" not in roles.values():  # only where no named opponent fills the side
        out += [("opp", f"?{word}") for word in unknown if word and word not in _NOT_A_NAME]
    return tuple(sorted(out))


def _word_after(text: str, position: int) -> str:
    """The first word after `position` that is not an article or particle ("" at the end)."""
    return next((word for word in _GAP_TOKEN.findall(text, position) if word not in _GAP_WORDS), "")


def _word_before(text: str, position: int) -> str:
    """The last word before `position` that is neither an article, a particle nor filler ("" at the start)."""
    words = [word for word in _GAP_TOKEN.findall(text, 0, position) if word not in _GAP_WORDS]
    return words[-1] if words and not _KOREAN_FILLER.fullmatch(words[-1]) else ""


def entities_in(text: str, index: EntityFinder | list[str] | tuple[str, ...] | None) -> list[str]:
    """The entity ids the question names, in the order it names them."""
    finder = term_index(tuple(index)) if isinstance(index, (list, tuple)) else index
    if finder is None:
        return []
    return [match.entity_id for match in sorted(finder.find(question_normalize(text)), key=lambda m: m.start)]


def negations_in(text: str) -> int:
    """How many negation cues the question holds (English and Korean)."""
    text = question_normalize(text)
    return len(_ENGLISH_NEGATION.findall(text)) + len(_KOREAN_NEGATION.findall(text))


def topics_in(text: str) -> dict[str, frozenset[str]]:
    """The contrasting topic words the question uses, by group: {"role": {"top"}, "rank": {"bronze"}}."""
    text = question_normalize(text)
    found: dict[str, set[str]] = {}
    for group, pattern in _TOPIC_PATTERNS:
        for match in pattern.finditer(text):
            if match.lastgroup:
                found.setdefault(group, set()).add(match.lastgroup)
    return {group: frozenset(members) for group, members in found.items()}


_CHECKS = ("language", "entities", "roles", "numbers", "negation", "topic")
_NAME_TOKEN = re.compile(r"⟦[^⟧]*⟧")
# A catalogue name with a number in it ("2페이즈" as phase-2) is compared by the numbers check, which also
# reads "두 번째 페이즈" and "second phase": as an entity it would refuse those rewordings.
_NUMBERED = re.compile(r"\d")


@lru_cache(maxsize=4096)
def _facts(text: str, index: EntityFinder | None) -> tuple[object, ...]:
    """What guard_check compares, in _CHECKS' order. Negation and topic words are read from the canonical
    form with the names taken out ("아니" as filler is not a negation, "Vi" is not a topic word).
    Cached: a lookup checks one question against up to k cached ones, and popular ones come up often."""
    rest = _NAME_TOKEN.sub(" ", question_canonical(text, index))
    roles = tuple(role for role in roles_in(text, index) if not _NUMBERED.search(role[1]))
    return (question_language(text), tuple(sorted(entity for _, entity in roles if entity != "?")), roles,
            numbers_in(text), negations_in(rest), topics_in(rest))  # fmt: skip


def guard_check(asked: str, cached: str, *, index: EntityFinder | None = None,
                terms: list[str] | tuple[str, ...] | None = None) -> GuardVerdict:  # fmt: skip
    """May the answer to `cached` be served for `asked`? Same language, entities, roles, numbers as
    written, negation and topic words. `terms`: a plain list of names, when there is no index."""
    if index is None and terms is not None:
        index = term_index(tuple(terms))
    for check, mine, theirs in zip(_CHECKS, _facts(asked, index), _facts(cached, index), strict=True):
        if mine != theirs:
            return GuardVerdict(False, check)
    return GuardVerdict(True)
