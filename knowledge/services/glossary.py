"""Glossary seeding: the recurring names in a game's published documents, as terms for the cache's guard."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Document, Game, GlossaryTerm
from .catalogue import entities_changed

_EN_WORD = r"[A-Z][A-Za-z0-9'’\-]+"
_EN_NAME = re.compile(rf"{_EN_WORD}(?:(?:\s+(?:of|the|de|von|and)\s+|\s+){_EN_WORD}){{0,3}}")
_KO_PAIR = re.compile(r"((?:[\uac00-\ud7a3]+ ){0,3}[\uac00-\ud7a3]+) ?\(([A-Za-z][A-Za-z0-9'’\- ]{1,60})\)")
# A word ending so (modifiers 떨어지는/강한/된, particles 의/을) leads into a name but is not part of it.
_KO_LEADING_ENDINGS = ("는", "은", "한", "된", "던", "운", "인", "의", "을", "를", "에", "로", "가", "이", "고")
_KO_WORD = re.compile(r"[\uac00-\ud7a3]{2,12}")
_PARTICLE_WORDS = """
은 는 이 가 을 를 의 에 로 와 과 도 만 랑 에서 에게 한테 으로 까지 부터 처럼 보다 이나 이랑 라는 이라는
에서는 에게서 으로는 에서도 에게는 이에요 예요 이다 입니다
"""
_KO_PARTICLES = sorted(_PARTICLE_WORDS.split(), key=len, reverse=True)
# Common words of Korean game guides: recurring, but not names. Staff switch off what slips through.
_KO_COMMON_WORDS = """
공격 패턴 회피 사용 추천 피해 데미지 대미지 페이즈 보스 스킬 아이템 무기 방어 체력 공략 정글 라인 챔피언 게임
플레이 상대 경우 때문 정도 이후 이전 다음 처음 가장 정말 그리고 하지만 그래서 그러면 또는 이번 패치 버전 너프 버프
변경 추가 삭제 시간 거리 위치 방향 타이밍 구간 상황 초반 중반 후반 전투 적들 몬스터 레벨 경험치 골드 아군 적군
라운드 스테이지 지역 장소 근처 주변 뒤로 앞으로 옆으로 왼쪽 오른쪽 점프 구르기 달리기 가드 패링 회복 포션 마법
기술 능력 효과 상태 이상 출혈 독 화염 냉기 번개 신성 피격 연속 한번 두번 세번 여러 모든 각각 하나 이것 그것
저것 여기 거기 우리 당신 여러분 영상 자막 가이드 설명 내용 부분 방법 이유 결과 문제 질문 답변 확인 기본 특히
보통 항상 가끔 절대 반드시 먼저 바로 계속 다시 이제 지금 그냥 아주 매우 조금 많이 빨리 천천히 최대 최소
있습니다 합니다 됩니다 없습니다 하세요 해요 있어요 돼요 에요 니다 구요 그리고요 기회 범위 번째 멀리 반대 공중 순간
"""
_KO_COMMON = set(_KO_COMMON_WORDS.split())
_KO_VERB_ENDINGS = (
    "다",
    "요",
    "죠",
    "네",
    "고",
    "며",
    "면",
    "서",
    "게",
    "지",
    "니",
    "까",
    "야",
    "데",
    "려면",
    "난",
    "한",
    "된",
    "던",
    "운",
)
_EN_COMMON_WORDS = """
The A An This That These Those When If In On At To For From With Without And Or But So You Your It Its
Use Using Tip Tips Note Notes Phase Step Guide Patch Version Update How What Why Where Who Which After Before
During Then Also Keep Stay Dodge Attack Avoid Watch Best Build Early Mid Late Game Good Bad Here There
They We I He She Do Don't Is Are Be Can Will Most All Each Every One Two Three First Second Third
"""
_EN_COMMON = set(_EN_COMMON_WORDS.split())


@dataclass(frozen=True)
class GlossarySeedResult:
    created: int
    updated: int
    candidates: dict[str, int]


def _strip_particle(word: str) -> str | None:
    """The word without its trailing particle; None when what is left is too short to be a name."""
    for particle in _KO_PARTICLES:
        if word.endswith(particle):
            stem = word[: -len(particle)]
            return stem if len(stem) >= 2 else None  # 옆으로, 몸을: a one-syllable stem is no name
    return word


def _korean_pair_name(words: list[str], english_words: int) -> str | None:
    """The Korean side of "물새 난무(Waterfowl Dance)": as many words as the English name has, minus
    leading modifiers and one-syllable words."""
    words = words[-english_words:]
    while len(words) > 1 and (len(words[0]) < 2 or words[0].endswith(_KO_LEADING_ENDINGS)):
        words = words[1:]
    if len(words) == 1:
        return _strip_particle(words[0])
    return " ".join(words)


def _sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip(" \t*_-#>\"'(")
    return not before or before[-1] in ".!?:\n"


def glossary_candidates(texts: Iterable[str], *, min_occurrences: int) -> dict[str, int]:
    """Entity names in a game's documents (one text per document), with how often they occur.

    Three explainable rules: (1) "한국어(English)" pairs, as Korean guides write names: both sides,
    always; (2) capitalised English names of 1-4 words recurring min_occurrences times (a single word
    must also appear mid-sentence once, so "Use" or "Keep" at a sentence start do not count);
    (3) Korean words (particles stripped) recurring min_occurrences times across at least two
    documents, that are neither common guide words nor verb forms.
    """
    pairs: Counter[str] = Counter()
    english: Counter[str] = Counter()
    english_mid: Counter[str] = Counter()
    korean: Counter[str] = Counter()
    korean_documents: Counter[str] = Counter()
    for text in texts:
        for match in _KO_PAIR.finditer(text):
            english_name = match.group(2).strip()
            korean_name = _korean_pair_name(match.group(1).split(), len(english_name.split()))
            if korean_name:
                pairs[korean_name] += 1
            pairs[english_name] += 1
        for match in _EN_NAME.finditer(text):
            words = match.group(0).split()
            while words and words[0] in _EN_COMMON:
                words.pop(0)
            if not words:
                continue
            name = " ".join(words)
            english[name] += 1
            if not _sentence_start(text, match.start()) or len(words) < len(match.group(0).split()):
                english_mid[name] += 1
        seen = set()
        for word in _KO_WORD.findall(text):
            stem = _strip_particle(word)
            if not stem or stem in _KO_COMMON or stem.endswith(_KO_VERB_ENDINGS):
                continue
            korean[stem] += 1
            seen.add(stem)
        korean_documents.update(seen)
    found: dict[str, int] = dict(pairs)
    for name, occurrences in english.items():
        single = " " not in name
        if occurrences >= min_occurrences and (not single or (english_mid[name] and name not in _EN_COMMON)):
            found[name] = max(found.get(name, 0), occurrences)
    for name, occurrences in korean.items():
        if occurrences >= min_occurrences and korean_documents[name] >= 2:
            found[name] = max(found.get(name, 0), occurrences)
    return {name: count for name, count in found.items() if 2 <= len(name) <= 100}


def glossary_seed(*, game: Game) -> GlossarySeedResult:
    """Add recurring names of the game's published documents as glossary terms.

    Idempotent; never re-activates a term staff switched off, never touches staff-added terms.
    """
    texts = Document.objects.filter(game=game, status=Document.Status.PUBLISHED).values_list("title", "content")
    candidates = glossary_candidates(
        (f"{title}\n{content}" for title, content in texts), min_occurrences=settings.GLOSSARY_MIN_OCCURRENCES
    )
    existing = {term.term: term for term in GlossaryTerm.objects.filter(game=game)}
    created = updated = 0
    with transaction.atomic():
        new_terms = [
            GlossaryTerm(game=game, term=name, source=GlossaryTerm.Source.SEEDED, occurrences=count)
            for name, count in candidates.items()
            if name not in existing
        ]
        GlossaryTerm.objects.bulk_create(new_terms, ignore_conflicts=True)
        created = len(new_terms)
        for name, count in candidates.items():
            term = existing.get(name)
            if term and term.source == GlossaryTerm.Source.SEEDED and term.occurrences != count:
                GlossaryTerm.objects.filter(pk=term.pk).update(occurrences=count, updated_at=timezone.now())
                updated += 1
    if created:
        entities_changed(game=game.slug)
    return GlossarySeedResult(created=created, updated=updated, candidates=candidates)
