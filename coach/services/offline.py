"""The offline coach's words (no OPENAI_API_KEY): the guide sentences that answer, cited, in the player's language.

    offline_answer(question="말레니아 물새 난무 어떻게 피해요?", sources=hits, game_name="엘든 링")
    not_covered_answer(question="...", game_name="Elden Ring", suggestions=["Malenia phase 2", ...])

Deterministic: the same question and sources give the same text, so the caches and tests can rely on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from knowledge.sentences import Sentence, sentences

from .prompt import question_language

# Sentences that speak to an AI rather than to a player are never quoted: retrieved text is data.
_INSTRUCTION = re.compile(
    r"ignore\s+(all\s+|any\s+|the\s+)?(previous|prior|above|earlier|preceding)|disregard|system\s+prompt|"
    r"developer\s+message|you\s+are\s+now|as\s+an\s+ai\b|jailbreak|new\s+instructions|\bassistant\b|"
    r"\bprompt\b|지시(를|사항)?\s*(무시|따르)|무시하고|시스템\s*프롬프트|프롬프트|너는\s*이제",
    re.IGNORECASE,
)
_TERM = re.compile(r"[0-9a-z]+|[\uac00-\ud7a3]+", re.IGNORECASE)
_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "how", "i", "in", "is",
    "it", "me", "my", "of", "on", "or", "the", "this", "to", "what", "when", "where", "which", "who",
    "why", "with", "you", "your", "can", "should", "best", "get",
})
# fmt: on
# Two-syllable pieces of question words and polite endings: in almost every Korean sentence, they say
# nothing about what is asked (피해요 shares 해요 with any sentence ending in 해요).
# fmt: off
_KOREAN_STOP_PIECES = frozenset({
    "어떻", "떻게", "어떡", "떡해", "언제", "어디", "디서", "무엇", "뭐가", "뭔가", "누구", "왜요", "해요",
    "세요", "어요", "아요", "나요", "까요", "니다", "습니", "합니", "하나", "하는", "하면", "해야", "있어",
    "있나", "인가", "은가", "는가", "돼요", "되나", "려면", "으려", "하려", "알려", "려줘", "주세", "하세",
})
# fmt: on
_ANSWERING_KINDS = frozenset({"prose", "list_item", "table_row"})

POINTS = 4  # at most this many quoted sentences
POINTS_PER_SOURCE = 2
SENTENCE_CHARS = 300
MIN_SENTENCE_CHARS = 8
SUGGESTIONS = 3


@dataclass(frozen=True)
class _Point:
    source: int  # 1-based, as cited
    position: int
    text: str


def offline_answer(*, question: str, sources: Sequence[object], game_name: str) -> str:
    """The sentences of the sources that answer the question, cited [1], [2]..., in the question's language.

    sources: ranked best first; ChunkHit objects or mappings with title and text, optionally start_time
    (a video: its timestamp is given), language ("ko"/"en"; else read from the sentence) and
    match_terms (extra strings counted as the question's, e.g. the other language's name of an entity
    it names). Only prose, list items and table rows are quoted, never headings, FAQ questions, table
    headers, markup or text addressed to an AI. With no sentence sharing a term with the question,
    the answer says the guides do not cover it and names the sources' topics instead.
    """
    korean = question_language(question) == "ko"
    candidates = _candidates(question, sources)
    if not candidates:
        return not_covered_answer(
            question=question, game_name=game_name, suggestions=[_value(source, "title") for source in sources]
        )
    points = _best_points(candidates)
    lines = [f"{game_name} 가이드에서 찾은 내용이에요:" if korean else f"Here's what the {game_name} guides say:"]
    noted: set[int] = set()
    for point in points:
        source = sources[point.source - 1]
        text = point.text if len(point.text) <= SENTENCE_CHARS else point.text[:SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"
        notes = []
        start = _start_time(source)
        if start is not None:
            notes.append(f"영상 {_clock(start)}" if korean else f"video {_clock(start)}")
        language = _language(source, point.text)
        if language != ("ko" if korean else "en") and point.source not in noted:
            noted.add(point.source)  # said once per source, on its first quoted sentence
            notes.append("영어 가이드에서 인용" if korean else "quoted from a Korean guide")
        suffix = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"- {text}{suffix} [{point.source}]")
    cited = sorted({point.source for point in points})
    titles = [f"[{i}] {_value(sources[i - 1], 'title')}".strip() for i in cited]
    lines.append(("출처: " if korean else "Sources: ") + "; ".join(titles))
    return "\n".join(lines)


def not_covered_answer(*, question: str, game_name: str, suggestions: Sequence[str] = ()) -> str:
    """The honest "my guides don't cover this", in the question's language, with up to 3 topics they do cover.

    suggestions: questions or titles the game's guides answer, best first; empty, duplicate and
    AI-addressed ones are left out.
    """
    korean = question_language(question) == "ko"
    topics = _suggestions(suggestions)
    if korean:
        text = f"아직 {game_name} 가이드에 이 질문에 대한 내용이 없어요."
        if not topics:
            return text + " 보스나 챔피언 이름, 상황을 조금 더 구체적으로 물어봐 주세요."
        return "\n".join([text + " 대신 이런 내용은 바로 알려 드릴 수 있어요:", *(f"- {topic}" for topic in topics)])
    text = f"Sorry, my {game_name} guides don't cover this yet."
    if not topics:
        return text + " Try naming the boss, champion or situation more specifically."
    return "\n".join([text + " Here's what I can help with right away:", *(f"- {topic}" for topic in topics)])


# --- choosing ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Row:
    source: int
    sentence: Sentence
    terms: frozenset[str]  # the sentence's own
    context: frozenset[str]  # its source's title and the heading or FAQ question it comes under


def _candidates(question: str, sources: Sequence[object]) -> list[tuple[float, _Point]]:
    """Every quotable sentence that shares a term with the question, scored.

    A question word counts by how rare it is among the sources' sentences (the boss a whole guide is
    about tells its sentences apart less than "dodge" does), fully when the sentence says it and 3/4
    when only the heading or FAQ question the sentence comes under does.
    """
    asked = _words(question)
    rows: list[_Row] = []
    wanted: dict[int, dict[frozenset[str], None]] = {}
    for index, source in enumerate(sources, start=1):
        wanted[index] = dict.fromkeys([*asked, *(w for extra in _match_terms(source) for w in _words(extra))])
        title = _terms(_value(source, "title"))
        context = title
        for sentence in sentences(_value(source, "text")):
            if sentence.kind in ("heading", "faq_question"):
                context = title | _terms(sentence.text)
            elif sentence.kind in _ANSWERING_KINDS and _quotable(sentence.text):
                rows.append(_Row(index, sentence, frozenset(_terms(sentence.text)), frozenset(context)))
    said: dict[frozenset[str], int] = {}
    for row in rows:
        for word in wanted[row.source]:
            said[word] = said.get(word, 0) + (_share(word, row.terms) > 0)
    candidates: list[tuple[float, _Point]] = []
    seen: set[str] = set()  # consecutive chunks overlap: the same sentence is quoted once
    for row in rows:
        own = under = 0.0
        for word in wanted[row.source]:
            weight = math.log(1 + len(rows) / said[word]) if said[word] else 0.0
            share = _share(word, row.terms)
            own += weight * share
            under += 0.0 if share else weight * _share(word, row.context)
        key = row.sentence.text.casefold()
        if own > 0 and key not in seen:
            seen.add(key)
            score = round(own + 0.75 * under, 6)  # rounded: the same order in every process
            candidates.append((score, _Point(row.source, row.sentence.position, row.sentence.text)))
    return candidates


def _share(word: frozenset[str], terms: frozenset[str]) -> float:
    """How much of a question word the terms hold: a Korean word by its two-syllable pieces, half at least."""
    share = len(word & terms) / len(word)
    return share if share >= 0.5 else 0.0


def _best_points(candidates: list[tuple[float, _Point]]) -> list[_Point]:
    """Best sources first, up to POINTS_PER_SOURCE each, in reading order; weak matches only with no strong one.

    A sentence must score at least half the best one: one shared word beside a sentence saying all
    the question asks is most likely beside the point.
    """
    floor = max(score for score, _ in candidates) / 2
    by_source: dict[int, list[tuple[float, _Point]]] = {}
    for score, point in candidates:
        if score >= floor:
            by_source.setdefault(point.source, []).append((score, point))
    points: list[_Point] = []
    for source in sorted(by_source):
        chosen = sorted(by_source[source], key=lambda item: (-item[0], item[1].position))[:POINTS_PER_SOURCE]
        points += sorted((point for _, point in chosen), key=lambda point: point.position)
    return points[:POINTS]


def _quotable(text: str) -> bool:
    return (
        len(text) >= MIN_SENTENCE_CHARS
        and "<" not in text
        and not text.endswith(("?", "？"))  # a question in a guide asks, it does not answer
        and not _INSTRUCTION.search(text)
    )


def _suggestions(suggestions: Sequence[str]) -> list[str]:
    topics, seen = [], set()
    for suggestion in suggestions:
        topic = " ".join(str(suggestion or "").split())
        if not topic or topic.casefold() in seen or "<" in topic or _INSTRUCTION.search(topic):
            continue
        seen.add(topic.casefold())
        topics.append(topic)
    return topics[:SUGGESTIONS]


# --- terms ------------------------------------------------------------------------------------------------
def _words(text: str) -> list[frozenset[str]]:
    """The question's words, each as the terms that stand for it (in order, once each)."""
    words: dict[frozenset[str], None] = {}
    for word in _TERM.findall(text.lower()):
        terms = frozenset(_word_terms(word))
        if terms:
            words[terms] = None
    return list(words)


def _terms(text: str) -> set[str]:
    return {term for word in _TERM.findall(text.lower()) for term in _word_terms(word)}


def _word_terms(word: str) -> list[str]:
    if _HANGUL_WORD.match(word):
        # Korean words carry particles and endings (말레니아를, 피해요): compare two-syllable pieces,
        # with the verb stem's 해/했 read as 하 (피해요 and 피하세요 share 피하).
        if len(word) == 1:
            return [word]
        pieces = (word[i : i + 2] for i in range(len(word) - 1))
        return [
            piece[0] + "하" if piece[1] in "해했" else piece for piece in pieces if piece not in _KOREAN_STOP_PIECES
        ]
    if word in _STOPWORDS or (len(word) < 2 and not word.isdigit()):
        return []
    return [_stem(word)]


def _stem(word: str) -> str:
    """dodge, dodges, dodged, dodging -> dodg: enough for a question's words to meet a guide's."""
    for suffix, shortest in (("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if len(word) >= shortest and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


# --- reading a source ---------------------------------------------------------------------------------------
def _field(source: object, name: str) -> Any:  # whatever the source holds, as getattr gives it
    return source.get(name) if isinstance(source, dict) else getattr(source, name, None)


def _value(source: object, name: str) -> str:
    return str(_field(source, name) or "")


def _match_terms(source: object) -> list[str]:
    extra = _field(source, "match_terms") or ()
    return [str(term) for term in ([extra] if isinstance(extra, str) else extra)]


def _start_time(source: object) -> float | None:
    value = _field(source, "start_time")
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _language(source: object, quoted: str) -> str:
    """The source's language when it says ("ko"/"en"), else the quoted sentence's: Hangul in it -> "ko"."""
    language = _value(source, "language").lower()
    if language in ("ko", "en"):
        return language
    return "ko" if _HANGUL.search(quoted) else "en"


__all__ = ["not_covered_answer", "offline_answer"]
