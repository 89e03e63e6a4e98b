"""The title a document gives itself: front matter, its first heading, a subtitle file's header; cut
to one line of TITLE_MAX_LENGTH characters."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

TITLE_MAX_LENGTH = 200
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_INLINE_MARKUP = re.compile(r"(\*\*|__|\*|`)")
_SENTENCE_END = (".", "!", "?", "。", ",", ";", ":", "…")


def _title_from_name(path: PurePosixPath | Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.name


def _title_cut(text: str) -> str:
    """A one-line title of at most TITLE_MAX_LENGTH characters, cut at a word when it must be cut."""
    text = " ".join(_INLINE_MARKUP.sub("", text).split())
    if len(text) <= TITLE_MAX_LENGTH:
        return text
    cut = text[: TITLE_MAX_LENGTH - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def text_title(text: str, *, plain: bool = False) -> str | None:
    """The title a Markdown or text document gives itself: front matter's `title:`, else its first
    heading (# or underlined), else (plain text only) a short first line set apart by a blank line."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, line in enumerate(lines[1:60], start=1) if line.strip() in ("---", "...")), None)
        if end:
            for line in lines[1:end]:
                match = re.match(r"title:\s*(.+)$", line.strip())
                if match and _title_cut(match.group(1).strip().strip("'\"")):
                    return _title_cut(match.group(1).strip().strip("'\""))
            lines = lines[end + 1 :]
    fenced = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        match = _ATX_HEADING.match(line)
        if match and _title_cut(match.group(1)):
            return _title_cut(match.group(1))
        alone = number == 0 or not lines[number - 1].strip()
        below = lines[number + 1] if number + 1 < len(lines) else ""
        if line.strip() and alone and _SETEXT_UNDERLINE.match(below) and _title_cut(line):
            return _title_cut(line)
    if plain:
        body = [line.strip() for line in lines if line.strip()]
        if len(body) >= 2:
            first, following = body[0], body[1]
            index = next(i for i, line in enumerate(lines) if line.strip())
            set_apart = not lines[index + 1].strip()
            # Not the first line of a hard-wrapped paragraph: apart, in capitals, or much shorter than the next.
            looks_like_title = set_apart or first.isupper() or len(first) < 0.7 * len(following)
            if looks_like_title and len(first) <= 100 and not first.endswith(_SENTENCE_END):
                return _title_cut(first)
    return None


def _subtitle_header_title(text: str) -> str | None:
    """'WEBVTT - Malenia, phase 1' -> 'Malenia, phase 1' (the text WebVTT allows after its signature)."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    rest = first[len("WEBVTT") :].strip(" \t-:")
    return _title_cut(rest) or None
