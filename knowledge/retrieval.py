"""Retrieval for a question: the best chunks of each language, re-ranked, and whether they cover it at all.

Embedders favour their question's own language: with e5, the right English guide for a Korean
question was first among the English chunks far more often than overall (bench/quality.py). So each
language present in the filtered set gives its own nearest candidates, and they are ranked together
by one score:

    similarity (1 - cosine distance)
    + a bonus for the other language (what the embedder's language bias takes away)
    + entity support: the share of the game entities the question names (말레니아 -> Malenia, 쓰레쉬 ->
      Thresh, from the game's catalogue) whose name, in any spelling, the chunk or its title carries
    + lexical overlap: the share of the question's terms (entity names' other spellings included) in it.

The same figures decide the gate: a question whose best chunk scores under the floor, or names an
entity no candidate mentions, is "not covered" (grounded=False), and the coach says so rather than
quote unrelated text. The weights and the floor are per embedder (Calibration), fitted on the dev part
of bench/data/quality and checked on its held-out part.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .search import ChunkHit, chunk_search
from .selectors import entity_index
from .sentences import question_language

LANGUAGES = ("ko", "en")
# Entities that name a subject (a boss, a champion, a map...) must be in the evidence for it to cover the
# question; these kinds are words of the game any guide uses (phase 2, jungle, reroll) and decide nothing.
GENERIC_KINDS = frozenset({"term", "role", "rank"})
MAX_CHUNKS_PER_DOCUMENT = 2

# A patch or version number as written (14.6, 14.10, 1.0b): one the guides never mention is not covered.
_VERSION = re.compile(r"(?<![\w.])\d+\.\d+[a-z]?(?![\w.])", re.IGNORECASE)
_TERM = re.compile(r"[0-9]+(?:\.[0-9]+)+|[0-9a-z]+|[\uac00-\ud7a3]+", re.IGNORECASE)
_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
# Question words and endings that say nothing about the topic.
_STOPWORDS_TEXT = """
a an and are as at be by do does for from how i in is it me my of on or the this that to what when where which
who why with you your can should best get vs into against ever still much many any some way tips guide
어떻게 어케 어캐 어떡해 뭐 뭐가 뭔가 뭐임 뭐예요 뭔데 왜 언제 어디 어디서 무엇 무슨 좀 혹시 그냥 진짜 그거 이거 알려줘
알려주세요 해요 하나요 하나 되나요 있나요 있어요 인가요 좋아요 좋나요 주세요 가이드 공략 팁
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class Calibration:
    """How one embedder's similarities are weighed against the text evidence, and the gate's floor."""

    cross_lingual_bonus: float
    entity_weight: float
    lexical_weight: float
    floor: float  # a best score under it: not covered


# Fitted on bench/data/quality's dev questions (bench/quality.py --tune); see docs/quality.md.
CALIBRATIONS = {
    "offline-multilingual-e5-small-q4": Calibration(
        cross_lingual_bonus=0.06, entity_weight=0.05, lexical_weight=0.0, floor=0.82
    ),
    "offline-hash-ngram-v1": Calibration(cross_lingual_bonus=0.0, entity_weight=0.15, lexical_weight=0.3, floor=0.2),
}
# OpenAI's embeddings cannot be measured here (no network; the local stand-in's vectors carry no meaning),
# so for them the gate rests on the entities alone (floor 0) until a run against the real API fits one.
DEFAULT_CALIBRATION = Calibration(cross_lingual_bonus=0.06, entity_weight=0.05, lexical_weight=0.0, floor=0.0)


@dataclass(frozen=True)
class Ranked:
    hit: ChunkHit
    score: float
    entity_support: float  # share of the question's entities the chunk names (1.0 when it names none)
    lexical: float
    entities: frozenset[str] = frozenset()  # the question's entity ids the chunk names
    # The spellings of the question's entities that this chunk uses (말레니아 -> "malenia"): the composer
    # counts them as the question's words.
    match_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retrieval:
    ranked: list[Ranked]
    grounded: bool
    reason: str  # "covered", "no_chunks", "entity_missing", "version_missing", "low_score"
    entities: list[str] = field(default_factory=list)  # the question's entity ids

    @property
    def hits(self) -> list[ChunkHit]:
        return [item.hit for item in self.ranked]

    @property
    def best_score(self) -> float:
        return self.ranked[0].score if self.ranked else 0.0


def terms(text: str) -> set[str]:
    """A text's content terms: English words, version numbers, and Korean words as 2-syllable pieces
    (말레니아를 and 말레니아의 share 말레, 레니, 니아), without question words."""
    found: set[str] = set()
    for word in _TERM.findall(text.lower()):
        if word in _STOPWORDS:
            continue
        if _HANGUL_WORD.match(word):
            if len(word) == 1:
                continue
            found.update(word[i : i + 2] for i in range(len(word) - 1))
        elif len(word) > 1 or word.isdigit():
            found.add(word)
    return found


@functools.lru_cache(maxsize=8192)
def _chunk_text(title: str, text: str) -> tuple[str, frozenset[str]]:
    """A chunk with its title, lower-cased, and its terms; kept: the same chunks are candidates ask after ask."""
    lowered = f"{title}\n{text}".lower()
    return lowered, frozenset(terms(lowered))


@functools.lru_cache(maxsize=4096)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern:
    """Any of the names in a lower-cased text: Latin ones as whole words ("Vi" is not in "view"),
    Korean ones anywhere (particles follow them: 말레니아를)."""
    alternatives = sorted({name.lower() for name in names}, key=len, reverse=True)
    return re.compile("|".join(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])" for name in alternatives))


@functools.lru_cache(maxsize=8192)
def _spellings_in(pattern: re.Pattern, text: str) -> tuple[str, ...]:
    """The entity's spellings a chunk uses; kept, as _chunk_text is (and on the texts it keeps): the same
    chunks and entities come back ask after ask."""
    return tuple(pattern.findall(text))


def retrieve(
    *,
    game: str,
    question: str,
    embedding: list[float],
    model_name: str,
    category: str | None = None,
    tags: list[str] | None = None,
    k: int = 5,
    calibration: Calibration | None = None,
) -> Retrieval:
    """The k best chunks for the question (at most MAX_CHUNKS_PER_DOCUMENT from one document), best
    first, and whether they cover it."""
    calibration = calibration or CALIBRATIONS.get(model_name, DEFAULT_CALIBRATION)
    candidates_per_language = max(3 * k, 15)
    candidates = chunk_search(
        game=game, embedding=embedding, model_name=model_name, category=category, tags=tags,
        k=candidates_per_language, per_language=True,
    )  # fmt: skip
    index = entity_index(game)
    matches = index.find(question)
    entity_ids = list(dict.fromkeys(match.entity_id for match in matches))
    spellings = {entity_id: _names_pattern(tuple(index.names(entity_id))) for entity_id in entity_ids}
    asked = question.lower()
    wanted = terms(question)
    for entity_id in entity_ids:
        for name in index.names(entity_id):
            if name.lower() not in asked:
                wanted |= terms(name)
    language = question_language(question)
    ranked = [_rank(hit, language, spellings, wanted, calibration) for hit in candidates]
    ranked.sort(key=lambda item: (-item.score, item.hit.chunk_id))
    chosen: list[Ranked] = []
    per_document: dict[int, int] = {}
    for item in ranked:
        if per_document.get(item.hit.document_id, 0) >= MAX_CHUNKS_PER_DOCUMENT:
            continue
        per_document[item.hit.document_id] = per_document.get(item.hit.document_id, 0) + 1
        chosen.append(item)
        if len(chosen) == k:
            break
    if not chosen:
        return Retrieval([], False, "no_chunks", entity_ids)
    # Named by any candidate: a weak embedder (or an unfamiliar one) may rank the guide that names it
    # below the top k, and the guides still cover it.
    named = set().union(*(item.entities for item in ranked))
    if any(index.kind(entity_id) not in GENERIC_KINDS and entity_id not in named for entity_id in entity_ids):
        return Retrieval(chosen, False, "entity_missing", entity_ids)
    versions = set(_VERSION.findall(question.lower()))
    if versions and not any(
        versions & set(_VERSION.findall(f"{item.hit.title} {item.hit.text}".lower())) for item in ranked
    ):
        return Retrieval(chosen, False, "version_missing", entity_ids)
    if chosen[0].score < calibration.floor:
        return Retrieval(chosen, False, "low_score", entity_ids)
    return Retrieval(chosen, True, "covered", entity_ids)


def _rank(hit: ChunkHit, language: str, spellings: dict, wanted: set[str], calibration: Calibration) -> Ranked:
    text, text_terms = _chunk_text(hit.title, hit.text)
    supported: set[str] = set()
    used: list[str] = []
    for entity_id, pattern in spellings.items():
        present = _spellings_in(pattern, text)
        if present:
            supported.add(entity_id)
            used += present
    support = len(supported) / len(spellings) if spellings else 1.0
    lexical = len(wanted & text_terms) / len(wanted) if wanted else 0.0
    score = (
        (1.0 - hit.distance)
        + (calibration.cross_lingual_bonus if hit.language != language else 0.0)
        + calibration.entity_weight * (support if spellings else 0.0)
        + calibration.lexical_weight * lexical
    )
    return Ranked(hit, round(score, 6), support, lexical, frozenset(supported), tuple(dict.fromkeys(used)))
