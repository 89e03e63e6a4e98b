"""The question as the guard compares it (question_canonical): names as entity ids, Korean politeness
endings, filler and punctuation gone."""

from __future__ import annotations

import re
from functools import lru_cache

from coach.services.guard.entities import EntityFinder, _names, question_normalize

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
