"""Cutting a document's content into pieces to embed: token-sized text chunks, timed subtitle passages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings

from ai.tokens import encoding_for

_BLANK_LINES = re.compile(r"\n\s*\n")
_HEADING = re.compile(r"^#{1,6}\s")
_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)
_CUE_TAG = re.compile(r"<[^>]*>")  # <i>, <c.yellow>, <v Speaker>, <00:00:01.000> karaoke marks


class SubtitleError(ValueError):
    """The subtitle text has no cue we can read (the message says where it went wrong)."""


@dataclass(frozen=True)
class Piece:
    text: str
    token_count: int
    needs_summary: bool = False
    start_time: float | None = None
    end_time: float | None = None


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def normalise(content: str) -> str:
    return content.replace("\r\n", "\n").replace("\r", "\n").strip()


def content_hash(content: str, content_format: str) -> str:
    return hashlib.sha256(f"{content_format}\n{normalise(content)}".encode()).hexdigest()


def _encoding():
    return encoding_for(settings.CHUNK_TOKEN_MODEL)


def count(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def pieces_for(content: str, content_format: str) -> list[Piece]:
    """The pieces to store for this content, in order: see text_pieces and subtitle_passages."""
    if content_format in ("srt", "vtt"):
        return subtitle_passages(parse_subtitles(content, content_format))
    return text_pieces(content)


# --- plain text and Markdown ------------------------------------------------------------------------
def _token_windows(text: str, size: int, overlap: int) -> list[str]:
    """Cut text every `size` tokens, each window repeating the last `overlap` tokens of the one before.

    Cuts fall on character boundaries (token offsets), so a Korean syllable is never split in two.
    """
    encoding = _encoding()
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= size:
        return [text]
    _, offsets = encoding.decode_with_offsets(tokens)
    step = max(1, size - overlap)
    windows = []
    for start in range(0, len(tokens), step):
        end = min(start + size, len(tokens))
        char_end = offsets[end] if end < len(tokens) else len(text)
        window = text[offsets[start] : char_end].strip()
        if window:
            windows.append(window)
        if end == len(tokens):
            break
    return windows


def _tail(text: str, overlap: int) -> str:
    """About the last `overlap` tokens of text, starting at a word boundary."""
    if overlap <= 0:
        return ""
    encoding = _encoding()
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= overlap:
        return text
    _, offsets = encoding.decode_with_offsets(tokens)
    tail = text[offsets[len(tokens) - overlap] :]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) // 2 else tail


def text_pieces(content: str) -> list[Piece]:
    """Paragraphs packed into chunks of up to CHUNK_TOKENS, consecutive chunks sharing CHUNK_OVERLAP_TOKENS.

    A paragraph longer than CHUNK_SUMMARIZE_OVER_TOKENS is one piece marked needs_summary (the
    customer's rule: summarised before it is stored); one longer than a chunk but within that limit
    is cut into token windows with overlap. A heading never ends a chunk: it goes with its text.
    """
    size, overlap = settings.CHUNK_TOKENS, settings.CHUNK_OVERLAP_TOKENS
    summarize_over = settings.CHUNK_SUMMARIZE_OVER_TOKENS
    pieces: list[Piece] = []
    current: list[str] = []
    current_tokens = 0

    def flush(keep_overlap: bool) -> str:
        nonlocal current, current_tokens
        carried = ""
        if current:
            text = "\n\n".join(current)
            pieces.append(Piece(text=text, token_count=count(text)))
            carried = _tail(text, overlap) if keep_overlap else ""
        current, current_tokens = [], 0
        return carried

    for paragraph in (p.strip() for p in _BLANK_LINES.split(normalise(content))):
        if not paragraph:
            continue
        tokens = count(paragraph)
        if tokens > summarize_over:
            heading = current.pop() if current and _HEADING.match(current[-1]) else None
            flush(keep_overlap=False)
            text = f"{heading}\n\n{paragraph}" if heading else paragraph
            pieces.append(Piece(text=text, token_count=count(text), needs_summary=True))
            continue
        if tokens > size:
            heading = current.pop() if current and _HEADING.match(current[-1]) else None
            flush(keep_overlap=False)
            for window in _token_windows(paragraph, size, overlap):
                text = f"{heading}\n\n{window}" if heading else window
                pieces.append(Piece(text=text, token_count=count(text)))
            continue
        if current and current_tokens + tokens > size:
            heading = current.pop() if _HEADING.match(current[-1]) else None
            carried = flush(keep_overlap=heading is None)
            if heading:
                current, current_tokens = [heading], count(heading)
            elif carried:
                current, current_tokens = [carried], count(carried)
        current.append(paragraph)
        current_tokens += tokens
    flush(keep_overlap=False)
    return pieces


# --- subtitles ----------------------------------------------------------------------------------------
def _seconds(value: str) -> float:
    parts = value.replace(",", ".").split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2]) if len(parts) >= 2 else 0
    hours = int(parts[-3]) if len(parts) >= 3 else 0
    return hours * 3600 + minutes * 60 + seconds


def parse_subtitles(content: str, content_format: str) -> list[Cue]:
    """Cues of an .srt or .vtt text: timing, then text lines; markup dropped, repeated lines merged."""
    text = normalise(content).lstrip("\ufeff")
    if content_format == "vtt" and not text.startswith("WEBVTT"):
        raise SubtitleError("a WebVTT file must start with 'WEBVTT'")
    cues: list[Cue] = []
    for block_number, block in enumerate(_BLANK_LINES.split(text), start=1):
        lines = [line for line in block.split("\n") if line.strip()]
        timing_at = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing_at is None:
            # WEBVTT header, NOTE, STYLE and REGION blocks carry no cue; in .srt every block must have one
            if content_format == "srt" and lines:
                raise SubtitleError(f"subtitle block {block_number} has no 'start --> end' timing line")
            continue
        match = _TIMING.match(lines[timing_at])
        assert match is not None  # timing_at is the line it matched
        cue_text = " ".join(_CUE_TAG.sub("", line).strip() for line in lines[timing_at + 1 :]).strip()
        if not cue_text:
            continue
        start, end = _seconds(match["start"]), _seconds(match["end"])
        if cues and cues[-1].text == cue_text:  # auto-captions repeat a line across cues
            cues[-1] = Cue(cues[-1].start, end, cue_text)
            continue
        cues.append(Cue(start, end, cue_text))
    if not cues:
        raise SubtitleError("no subtitle cue found")
    return cues


def subtitle_passages(cues: list[Cue]) -> list[Piece]:
    """Consecutive cues merged into passages of about SUBTITLE_PASSAGE_TOKENS, keeping their time span.

    Each passage after the first starts with the last cues of the one before (up to
    CHUNK_OVERLAP_TOKENS), so an answer spanning a cut is still found whole in one of them.
    """
    target, overlap = settings.SUBTITLE_PASSAGE_TOKENS, settings.CHUNK_OVERLAP_TOKENS
    pieces: list[Piece] = []
    current: list[tuple[Cue, int]] = []

    def emit() -> None:
        text = " ".join(cue.text for cue, _ in current)
        tokens = count(text)
        pieces.append(
            Piece(
                text=text,
                token_count=tokens,
                needs_summary=tokens > settings.CHUNK_SUMMARIZE_OVER_TOKENS,
                start_time=current[0][0].start,
                end_time=current[-1][0].end,
            )
        )

    fresh = 0  # cues in `current` not already emitted in the previous passage
    for cue in cues:
        current.append((cue, count(cue.text)))
        fresh += 1
        if sum(tokens for _, tokens in current) >= target:
            emit()
            carried: list[tuple[Cue, int]] = []
            for item in reversed(current[1:]):
                if sum(tokens for _, tokens in carried) + item[1] > overlap:
                    break
                carried.insert(0, item)
            current, fresh = carried, 0
    if fresh:
        emit()
    return pieces
