"""The words a question's meaning turns on that names do not carry: numbers as written, negation, and
contrasting topic words (a role, a rank, a queue, a modifier, counter vs build)."""

from __future__ import annotations

import re
from decimal import Decimal

from coach.services.guard.entities import question_normalize

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
# 아니/아닌 (copula negation; "아니면" = "or else" is not one), 말고 ("not X but"), 지 마 and 지 말아야/말까 (don't),
# 빼고/제외/없이 (without). 안 only counts before a space or a verb stem, so 안전/안내/성 안에 do not.
_KOREAN_NEGATION = re.compile(
    r"(?:^|(?<=\s))안(?=\s|되|돼|됨|됩|통|맞|먹|들|나와|나오|나옴|써|쓰|해|하|보이|보여|뜨|떠|죽|잡|깨|열|풀|가|와|좋|아프|올라|오르|붙|걸|박)"
    r"|(?:^|(?<=\s))못(?!생)"
    r"|않|없|아니(?!면)|아닌|아님|아냐|말고|지\s?(?:마|말(?:아|어|았|자|까|라|지|기|것|(?![가-힣])))|빼고|제외|금지|불가|스킵|건너뛰|거르"
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
        "before": r"\bbefore\b|\bpre\b|\bpre(?=plant)|전에|설치\s?전",
        "after": r"\bafter\b|\bpost\b|\bpost(?=plant)|후에|이후|깬\s?후|다음에|설치\s?후",
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
        "comp": r"\bcomps?\b|\bcompositions?\b|조합|덱(?:[이은을의도만]|에서|으로)?(?![가-힣])",
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
    # Ahead or behind, a win or a loss streak: the same plan played from the other side of the game.
    "lead": {"ahead": r"\bahead\b|앞서|앞설", "behind": r"\bbehind\b|뒤처|밀릴\s?때|밀리는\s?상황"},
    "streak": {"win_streak": r"\bwin\s?streak\w*|연승", "loss_streak": r"\blos\w*\s?streak\w*|연패"},
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
