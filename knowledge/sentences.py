"""Guide text (Markdown, plain, HTML-derived, FAQ, subtitles; Korean and English) cut into clean, classified sentences.

    for sentence in sentences(chunk.text):
        sentence.kind      # "heading", "faq_question", "table_header", "table_row", "list_item" or "prose"
        sentence.text      # markers, emphasis, pipes and link syntax gone; one space between words
        sentence.position  # 0, 1, 2... in reading order

What is recognised, and why:
- Markdown headings (`#`, setext `===`/`---`), a line that is bold and nothing else, and a short
  line of its own ending in ":" or without any punctuation before more text name a topic: "heading".
- FAQ chunks, "Q: ... A: ..." / "질문: ... 답변: ..." on one line or several (a jsonl FAQ record's
  content, as staff write it), a text's first paragraph when it ends in "?" and more follows (a
  record given as question and answer is stored as "question\n\nanswer"), and a line that is one
  question of its own: the question is "faq_question", the answer after it is prose.
- Markdown tables become readable text: with a header row "Item: Moonveil, Stat: DEX 18" (the
  header itself is "table_header"), without one "Phase 2: Waterfowl Dance, dodge away".
- List items (`-`, `*`, `+`, `1.`, `1)`, doubled markers "- - ", checkboxes) are "list_item",
  each of their sentences.
- Sentences end at . ! ? … (not after abbreviations such as "e.g." or "vs.", nor before a
  lowercase word), at Korean ends written with them (다. 요. 죠. 음.), at jamo runs (ㅇㅇ, ㅋㅋ)
  and, since auto-generated captions have no punctuation, at a polite Korean ending (니다, 요,
  죠) before a space. A run with no end at all (ingestion joins subtitle cues with spaces) is cut
  past LONG_SENTENCE_CHARS at its line (cue) breaks, else at a word boundary, into pieces of about
  SENTENCE_TARGET_CHARS. A line break is a soft place to cut, and ends a sentence when the line
  reads as finished and the next starts a new one (capital letter, digit or Hangul): lines of points
  without full stops stay apart, a wrapped English sentence stays whole.
- Raw .srt/.vtt text is read cue by cue: numbers, timing lines and the WEBVTT header are dropped.
- HTML tags are left in the text on purpose: callers that must not quote markup (the offline
  composer drops any sentence with "<") can see them.

Pure Python and regular expressions: no Django at import, no I/O; a few thousand characters take
well under a millisecond per kilobyte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["heading", "faq_question", "table_header", "table_row", "list_item", "prose"]

LONG_SENTENCE_CHARS = 200  # a run longer than this without a sentence end is cut
SENTENCE_TARGET_CHARS = 160  # ... into pieces of about this size

HEADING_CHARS = 60  # a bare line up to this long, before more text, can be a heading
MIN_LINE_SENTENCE_CHARS = 8  # a line break ends a sentence of at least this many characters


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    kind: Kind
    position: int


# --- line shapes --------------------------------------------------------------------------------------
_ATX_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)(.*?)(?:\s+#+)?\s*$")
_SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)]|[①-⑳])\s+")
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")
_BLOCKQUOTE = re.compile(r"^\s{0,3}>\s?")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_WHOLE_BOLD = re.compile(r"^(\*\*|__)(.+)\1:?$")
_SUBTITLE_TIMING = re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*-->")
_SUBTITLE_NUMBER = re.compile(r"^\s*\d+\s*$")
_WEBVTT_BLOCK = re.compile(r"^(?:WEBVTT|NOTE|STYLE|REGION)\b")

# FAQ markers: "Q:", "Q.", "Q1)", "Question:", "질문:", "문:" / "A:", "Answer:", "답변:", "답:".
_QUESTION_MARKER = re.compile(r"^(?:q(?:uestion)?\s*\d*\s*[:.)]|질문\s*\d*\s*[:.)]|문\s*[:)])\s*", re.IGNORECASE)
_ANSWER_MARKER = re.compile(r"^(?:a(?:nswer)?\s*\d*\s*[:.)]|답변\s*\d*\s*[:.)]|답\s*[:.)])\s*", re.IGNORECASE)
_INLINE_ANSWER = re.compile(r"(?<!\S)(?:[Aa](?:nswer)?\s*:|A[.)]|답변\s*[:.)]|답\s*[:)])\s*")

# --- inline Markdown ------------------------------------------------------------------------------------
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_CODE = re.compile(r"`+([^`]*)`+")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_STRAY_PIPE = re.compile(r"\s*\|\s*")

# --- sentence ends ------------------------------------------------------------------------------------
# An end mark (with closing quotes or brackets) before whitespace: . ! ? 。 ？ ！ …, ~ after Hangul,
# a run of jamo (ㅇㅇ, ㅋㅋ, ㅠㅠ), or a polite Korean ending (니다, 요, 죠) as unpunctuated captions
# have them; not the 요 of nouns (필요 없음, 주요 패턴, 중요 포인트).
_END = re.compile(
    r"(?:[.!?。？！…]+|(?<=[\uac00-\ud7a3])~+|[\u3131-\u318e]{2,}|"
    r"(?<=[\uac00-\ud7a3])(?:니다|(?<![필중주수강소불사])요|죠))[\"'”’)\]」』]*(?=\s)"
)
# fmt: off
_ABBREVIATIONS = frozenset({
    "e.g", "i.e", "vs", "approx", "lv", "lvl", "no", "nr", "mr", "mrs", "ms", "dr", "st", "ft", "ver",
    "ch", "pt", "fig", "ex", "cf", "jr", "sr", "inc",
})
# fmt: on
# A line break ends a sentence when the line reads as finished and the next starts a new one: lines of
# points without a full stop ("Item: Moonveil, Stat: DEX 18", a list item's two sentences), never
# the middle of a wrapped English sentence (next line in lowercase) nor after a comma or colon.
_LINE_SENTENCE_BREAK = re.compile(r"(?<=[^\s,;:(\[/&–—-])\n(?=[\"'(\[]?[A-Z0-9\uac00-\ud7a3])")
_PUNCTUATED_END = re.compile(r"[.!?。？！…:;,]\s*$|[\u3131-\u318e]{2,}\s*$")


def sentences(text: str) -> list[Sentence]:
    """The sentences of a guide's text, in order, each cleaned and classified (see the module's note)."""
    found: list[tuple[str, Kind]] = []
    for block in _blocks(_lines(text)):
        found += block
    return [Sentence(text, kind, position) for position, (text, kind) in enumerate(found) if text]


def clean(text: str) -> str:
    """Inline Markdown removed (emphasis, code ticks, links to their text, stray pipes), one space between words."""
    text = _FOOTNOTE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    for _ in range(2):  # ***both*** and nested emphasis
        text = _BOLD.sub(r"\2", text)
        text = _ITALIC.sub(lambda m: m.group(1) or m.group(2), text)
    text = _STRIKE.sub(r"\1", text)
    text = _ESCAPE.sub(r"\1", text)
    text = _STRAY_PIPE.sub(", ", text)
    return " ".join(text.split()).strip(" ,")


# --- lines and blocks ---------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    """The text's lines; for raw subtitles, their cue text only (numbers, timings and headers dropped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    if not any(_SUBTITLE_TIMING.match(line) for line in lines):
        return lines
    cues: list[str] = []
    skipping = False  # inside a WEBVTT header, NOTE, STYLE or REGION block
    for index, line in enumerate(lines):
        if not line.strip():
            skipping = False
            cues.append("")
            continue
        if _WEBVTT_BLOCK.match(line) or skipping:
            skipping = True
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _SUBTITLE_TIMING.match(line) or (_SUBTITLE_NUMBER.match(line) and _SUBTITLE_TIMING.match(following)):
            continue
        cues.append(re.sub(r"<[^>]*>", "", line))  # cue markup: <i>, <c.yellow>, <v Speaker>
    # each cue is a line of one paragraph: its breaks are the places to cut a long unpunctuated run
    return [line for line in cues if line.strip()]


def _blocks(lines: list[str]):
    """Yield each block's (text, kind) pairs: paragraphs, lists, tables, headings, FAQ pairs."""
    index, in_faq, fenced = 0, False, False
    paragraph: list[str] = []  # the prose lines being gathered
    first = True  # no paragraph yet

    def flush(is_last_block: bool):
        nonlocal paragraph, in_faq, first
        lines_, paragraph = paragraph, []
        if not lines_:
            return []
        pairs, in_faq = _paragraph(lines_, in_faq, is_last_block)
        if first and not is_last_block and pairs and pairs[-1][0].endswith(("?", "？")):
            # ingestion stores an FAQ record given as question and answer as "question\n\nanswer"
            pairs = [(text, "faq_question" if kind == "prose" else kind) for text, kind in pairs]
        first = False
        return pairs

    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _FENCE.match(line):
            fenced = not fenced
            yield flush(False)
            index += 1
            continue
        if fenced or not line.strip():
            if fenced and line.strip():
                paragraph.append(line)
            else:
                yield flush(not any(rest.strip() for rest in lines[index:]))
            index += 1
            continue
        line = _BLOCKQUOTE.sub("", line)
        if heading := _ATX_HEADING.match(line):
            yield flush(False)
            yield [(clean(heading.group(1)), "heading")]
            index += 1
            continue
        if not paragraph and following.strip() and _SETEXT_UNDERLINE.match(following) and not _is_table_line(line):
            yield [(clean(line), "heading")]
            index += 2
            continue
        if _RULE.match(line):
            yield flush(False)
            index += 1
            continue
        if _is_table_line(line) and (_is_table_line(following) or _TABLE_SEPARATOR.match(following)):
            yield flush(False)
            end = index
            while end < len(lines) and _is_table_line(lines[end]):
                end += 1
            yield _table(lines[index:end])
            index = end
            continue
        if _LIST_MARKER.match(line):
            yield flush(False)
            item = [_strip_list_markers(line)]
            index += 1
            # continuation lines (indented or lazy) belong to the item until a blank line or another block
            while index < len(lines) and lines[index].strip() and not _starts_block(lines[index]):
                item.append(lines[index])
                index += 1
            yield [(text, "list_item") for text in _split(clean_lines(item))]
            continue
        paragraph.append(line)
        index += 1
    yield flush(True)


def _starts_block(line: str) -> bool:
    return bool(
        _LIST_MARKER.match(line)
        or _ATX_HEADING.match(line)
        or _RULE.match(line)
        or _FENCE.match(line)
        or _is_table_line(line)
        or _QUESTION_MARKER.match(line.strip())
    )


def _strip_list_markers(line: str) -> str:
    while True:  # "- - item", "1. - item", "- [ ] item"
        stripped = _CHECKBOX.sub("", _LIST_MARKER.sub("", line, count=1), count=1)
        if stripped == line:
            return line.strip()
        line = stripped


def clean_lines(lines: list[str]) -> str:
    """Lines cleaned one by one and kept apart by "\n": a line break is a place a long run can be cut."""
    return "\n".join(cleaned for cleaned in (clean(line) for line in lines) if cleaned)


def _paragraph(lines: list[str], in_faq: bool, is_last_block: bool) -> tuple[list[tuple[str, Kind]], bool]:
    """A paragraph's sentences: FAQ question and answer parts, a bare heading line, or prose."""
    pairs: list[tuple[str, Kind]] = []
    prose: list[str] = []

    def prose_flush():
        if prose:
            pairs.extend((text, "prose") for text in _split(clean_lines(prose)))
            prose.clear()

    question: list[str] | None = None  # the question being gathered, until its answer or its "?"
    for number, raw in enumerate(lines):
        line = raw.strip()
        bold = _WHOLE_BOLD.match(line)
        if bold:
            line = bold.group(2).strip()
        if question is not None and not _ANSWER_MARKER.match(line) and _PUNCTUATED_END.search(question[-1]):
            pairs += _question(question)  # "Q: ...?" then a line without "A:": that line is the answer
            question = None
        if _QUESTION_MARKER.match(line):
            prose_flush()
            in_faq, question = True, [_QUESTION_MARKER.sub("", line)]
        elif question is not None and not _ANSWER_MARKER.match(line):
            question.append(line)
        elif in_faq and _ANSWER_MARKER.match(line):
            if question is not None:
                pairs += _question(question)
                question = None
            prose.append(_ANSWER_MARKER.sub("", line))
            continue
        else:
            starts_sentence = number == 0 or bool(_PUNCTUATED_END.search(lines[number - 1]))
            cleaned = clean(line)
            if starts_sentence and _is_lone_question(cleaned):
                prose_flush()
                pairs.append((cleaned, "faq_question"))
            elif bold and not re.search(r"[.!。]$", cleaned):
                prose_flush()
                pairs.append((cleaned, "heading"))
            elif len(lines) == 1 and not is_last_block and _is_bare_heading(cleaned):
                pairs.append((cleaned, "heading"))
            else:
                prose.append(line)
            continue
        # the answer may follow its question on the same line: "Q: ...? A: ..."
        joined = " ".join(question)
        inline = _INLINE_ANSWER.search(joined, pos=1)
        if inline:
            pairs += _question([joined[: inline.start()]])
            question = None
            prose.append(joined[inline.end() :])
    if question is not None:
        pairs += _question(question)
    prose_flush()
    return pairs, in_faq


def _question(lines: list[str]) -> list[tuple[str, Kind]]:
    return [(text, "faq_question") for text in _split(clean_lines(lines))]


def _is_lone_question(text: str) -> bool:
    return text.endswith(("?", "？")) and len(_split(text)) == 1


def _is_bare_heading(text: str) -> bool:
    """A short line of its own before more text, ending in ":" or in no punctuation nor Korean ending."""
    if len(text) > HEADING_CHARS:
        return False
    if text.endswith((":", "：")):
        return True
    return not _PUNCTUATED_END.search(text) and not re.search(r"[다요죠음함임]\s*$", text)


# --- tables -------------------------------------------------------------------------------------------
def _is_table_line(line: str) -> bool:
    stripped = line.strip()
    if _TABLE_SEPARATOR.match(stripped) and "|" in stripped:
        return True
    return stripped.startswith("|") or stripped.count("|") >= 2


def _cells(line: str) -> list[str]:
    stripped = line.strip()
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [clean(cell) for cell in re.split(r"(?<!\\)\|", stripped)]


def _table(lines: list[str]) -> list[tuple[str, Kind]]:
    header: list[str] | None = None
    if len(lines) > 1 and _TABLE_SEPARATOR.match(lines[1]):
        header = _cells(lines[0])
        lines = lines[2:]
    pairs: list[tuple[str, Kind]] = []
    if header and any(header):
        pairs.append((", ".join(cell for cell in header if cell), "table_header"))
    for line in lines:
        if _TABLE_SEPARATOR.match(line):
            continue
        cells = _cells(line)
        if not any(cells):
            continue
        if header and any(header):
            parts = []
            for position, cell in enumerate(cells):
                if not cell:
                    continue
                name = header[position] if position < len(header) else ""
                parts.append(f"{name}: {cell}" if name else cell)
            text = ", ".join(parts)
        else:
            values = [cell for cell in cells if cell]
            text = values[0] + (": " + ", ".join(values[1:]) if len(values) > 1 else "")
        pairs.append((text, "table_row"))
    return pairs


# --- sentence splitting ---------------------------------------------------------------------------------
def _split(text: str) -> list[str]:
    """Cleaned text ("\n" between its lines) cut into sentences, long unpunctuated runs into pieces."""
    ends = {end.end() for end in _END.finditer(text) if _is_sentence_end(text, end)}
    line_ends = {line_break.start() for line_break in _LINE_SENTENCE_BREAK.finditer(text)} - ends
    pieces: list[str] = []
    start = 0
    for end in sorted(ends | line_ends):
        if end in line_ends and len(text[start:end].strip()) < MIN_LINE_SENTENCE_CHARS:
            continue  # "... flurry. Use\nMalenia's opening": a wrapped line, not a finished one
        pieces += _cut_long(text[start:end])
        start = end
    pieces += _cut_long(text[start:])
    return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def _is_sentence_end(text: str, match: re.Match) -> bool:
    mark = match.group(0)
    if not mark.startswith("."):
        return True
    word = re.search(r"([\w.]+)\.$", text[: match.start() + 1])
    if word and (word.group(1).lower() in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", word.group(1))):
        return False
    following = re.match(r"\s*(\S)", text[match.end() :])
    return not (following and following.group(1).islower() and following.group(1).isascii())


def _cut_long(run: str) -> list[str]:
    """A run past LONG_SENTENCE_CHARS without a sentence end, cut at its line (cue) breaks, else at words."""
    if len(" ".join(run.split())) <= LONG_SENTENCE_CHARS:
        return [run]
    lines = [line for line in run.split("\n") if line.strip()]
    atoms = lines if len(lines) > 1 else run.split()
    pieces, current = [], ""
    for atom in atoms:
        atom = " ".join(atom.split())
        if len(atom) > LONG_SENTENCE_CHARS:  # one cue or word too long alone: cut it by words, then by characters
            if current:
                pieces.append(current)
                current = ""
            pieces += _by_words(atom) if len(atoms) > 1 or " " in atom else _by_characters(atom)
            continue
        if current and len(current) + 1 + len(atom) > SENTENCE_TARGET_CHARS:
            pieces.append(current)
            current = atom
        else:
            current = f"{current} {atom}".strip()
    if current:
        pieces.append(current)
    return pieces


def _by_words(text: str) -> list[str]:
    return _cut_long(text.replace("\n", " ")) if " " in text else _by_characters(text)


def _by_characters(text: str) -> list[str]:
    return [text[i : i + SENTENCE_TARGET_CHARS] for i in range(0, len(text), SENTENCE_TARGET_CHARS)]


__all__ = ["LONG_SENTENCE_CHARS", "SENTENCE_TARGET_CHARS", "Kind", "Sentence", "clean", "sentences"]


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def question_language(text: str) -> str:
    """ "ko" when the text has Hangul (syllables or jamo), else "en": an answer's language follows its
    question's. The one definition retrieval, the prompt and the semantic cache's guard share."""
    return "ko" if _HANGUL.search(text) else "en"
