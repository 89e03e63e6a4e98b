"""The role each name plays around the question's relation words (vs, into, counters, 상대로, 카운터, 으로/로)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from coach.services.guard.canonical import _KOREAN_FILLER
from coach.services.guard.entities import EntityFinder, EntityMatch, _names, question_normalize

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
    r"|잡(?:는|기|을|아|나|음|고|으려)|(?<![가-힣])(?:이기|이겨|이김|이길|이긴|때려잡|죽이|파훼|(?:막|뚫)(?:는|기|음|아|어|을|으려|으면))"
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


@lru_cache(maxsize=4096)
def roles_in(text: str, index: EntityFinder | None) -> tuple[tuple[str, str], ...]:
    """(role, entity id) for each name the question uses, sorted, with ("opp", "?") for a relation word
    that names no one. Names without a relation word have no role ("" ); two or more of one kind
    without roles keep their order ("#1", "#2"), since "야스오 요네 라인전" may be a matchup too.
    Cached: the guard's facts and its sides check both read them."""
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
                elif left is None and right is None:
                    unnamed = True  # "how to stop a C rush": beating something the catalogue does not name
            else:  # Korean: object, verb; "요네 잡는 야스오": Yasuo is the one who beats
                subject = left is not None and text[matches[left].end : found.start()].strip() in _SUBJECT
                mark(left, "me" if subject and found.group() in _KOREAN_BEATS else "opp")
                mark(right, "me")
                if left is None:
                    word = _word_before(text, found.start())
                    unknown.add(word)
                    unnamed = unnamed or not word or word in _NOT_A_NAME  # "셋업 어케 뚫음"
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


# --- swapped sides ---------------------------------------------------------------------------------
# Two questions with the same letters where two parts traded places around words that stay put ("피의 강
# 들고 모독의 검 유저 상대", "as a colossal weapon user how do i fight katana users") ask the relation the
# other way round, whether or not the catalogue knows the parts. Parts that trade places with only spaces
# or a symmetric joiner between them ("꼬마 거인 증강 리롤덱에서" / "리롤덱에서 꼬마 거인 증강", "A and B")
# are the same question in another order.
_SYMMETRIC_JOINER = re.compile(r"[\s,/&]*(?:(?:and|or|n|&|랑|이랑|하고|와|과|및)[\s,]*)?")
# Two phrases that each open with a preposition moved around the rest ("as lulu who should i shield first in
# teamfights" / "in teamfights who should i shield first as lulu") are the same question reworded.
_ADVERBIAL = re.compile(r"\s*(?:as|in|on|at|during|after|before|when|while|with|without|for|from)\s")


# A Korean particle's two forms, chosen by the sound before it (펜타킬이 / 트루데미지가), as one: swapped parts
# carry the other form ("펜타킬이 트루데미지한테" / "트루데미지가 펜타킬한테").
_PARTICLE_FORM = re.compile(r"(?<=[가-힣])(가|는|를|와|랑)(?=[\s?.!,]|$)")
_PARTICLE_FORMS = {"가": "이", "는": "은", "를": "을", "와": "과", "랑": "이랑"}


def _particles_one_form(text: str) -> str:
    return _PARTICLE_FORM.sub(lambda match: _PARTICLE_FORMS[match.group(1)], text)


def sides_swapped(asked: str, cached: str) -> tuple[str, str] | None:
    """The two parts one question has swapped around words that stay put in the other, or None."""
    a, b = (_particles_one_form(question_normalize(text)) for text in (asked, cached))
    if a == b or len(a) != len(b) or sorted(a) != sorted(b):
        return None
    n = len(a)
    same_start = next(i for i in range(n) if a[i] != b[i])
    same_end = next(i for i in range(n) if a[n - 1 - i] != b[n - 1 - i])
    # the swapped parts may begin inside what the two share ("아리 vs 아칼리"): cut there or at a word's start
    starts = {same_start, *(i for i in range(same_start) if i == 0 or a[i - 1] == " ")}
    ends = {same_end, *(i for i in range(same_end) if i == 0 or a[n - i] == " ")}
    for p in sorted(starts):
        for q in sorted(ends):
            if p + q < n and (parts := _swapped(a[p : n - q], b[p : n - q])):
                return parts
    return None


def _swapped(a: str, b: str) -> tuple[str, str] | None:
    """(X, Y) when a is X + joiner + Y and b is Y + joiner + X, with a joiner that is more than a space or an
    "and"."""
    n = len(a)
    heads = [i for i in range(1, n) if a[:i] == b[n - i :]]
    tails = [j for j in range(1, n) if a[n - j :] == b[:j]]
    for i in heads:
        for j in tails:
            if (
                i + j < n
                and a[i : n - j] == b[j : n - i]
                and not _SYMMETRIC_JOINER.fullmatch(a[i : n - j])
                and not (_ADVERBIAL.match(a[:i]) and _ADVERBIAL.match(a[n - j :]))
            ):
                return a[:i], a[n - j :]
    return None
