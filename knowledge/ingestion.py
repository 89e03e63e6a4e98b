"""Reading source files (.md .txt .html .srt .vtt .jsonl) into documents to ingest, with clear errors."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .chunking import SubtitleError, parse_subtitles

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
SUBTITLE_SUFFIXES = {".srt": "srt", ".vtt": "vtt"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | set(SUBTITLE_SUFFIXES) | {".jsonl"}
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")
_JSONL_FIELDS = {"id", "title", "content", "text", "url", "category", "tags", "source_kind", "language", "format"}


@dataclass
class DocumentInput:
    """One document as a source describes it; None fields fall back to the command's options."""

    source_key: str
    title: str
    content: str
    content_format: str = "text"
    where: str = ""
    category: str | None = None
    tags: list[str] | None = None
    source_kind: str | None = None
    source_url: str = ""
    language: str | None = None


@dataclass
class SourceError:
    where: str  # "path" or "path:line"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ReadResult:
    documents: list[DocumentInput] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)


def detect_language(text: str) -> str:
    letters = len(_LETTER.findall(text[:20000]))
    if not letters:
        return "en"
    return "ko" if len(_HANGUL.findall(text[:20000])) / letters > 0.3 else "en"


def source_key_for(path: Path) -> str:
    """Where the file is, relative to the working directory when under it: re-ingesting it updates in place."""
    resolved = path.resolve()
    try:
        return f"file:{resolved.relative_to(Path.cwd().resolve()).as_posix()}"
    except ValueError:
        return f"file:{resolved.as_posix()}"


def collect_files(paths: list[str]) -> tuple[list[Path], list[SourceError]]:
    """Files named, plus supported files under named directories (sorted); a missing path is an error."""
    files: list[Path] = []
    errors: list[SourceError] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(Path(root) / n for n in sorted(names) if Path(n).suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.exists():
            files.append(path)
        else:
            errors.append(SourceError(name, "no such file or directory"))
    return files, errors


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise _ReadError("binary data, not a text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _ReadError(
            f"wrong encoding: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None


class _ReadError(Exception):
    pass


def read_file(path: Path) -> ReadResult:
    """The documents in one file, or the reason it cannot be read (jsonl: per line, good lines kept)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return read_source(str(path), b"", source_key="")  # the unsupported-type error, before any read
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ReadResult(errors=[SourceError(str(path), f"unreadable: {exc.strerror or exc}")])
    return read_source(str(path), raw, source_key=source_key_for(path))


def read_source(name: str, raw: bytes, *, source_key: str) -> ReadResult:
    """The documents in one source's bytes (a file on disk, an upload, a zip member), named `name` in errors.

    The suffix of `name` says how to read it; `source_key` is the document's identity (a jsonl line's
    own id or url wins, else `source_key#line`).
    """
    where = name
    suffix = Path(name).suffix.lower()
    result = ReadResult()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        result.errors.append(
            SourceError(where, f"unsupported file type '{suffix or Path(name).name}' (supported: {supported})")
        )
        return result
    try:
        text = _decode(raw)
    except _ReadError as exc:
        result.errors.append(SourceError(where, str(exc)))
        return result
    if not text.strip():
        result.errors.append(SourceError(where, "empty file"))
        return result
    key = source_key
    path = Path(name)
    try:
        if suffix == ".jsonl":
            return _read_jsonl(path, key, text)
        if suffix in HTML_SUFFIXES:
            title, body = html_to_text(text)
            if not body.strip():
                raise _ReadError("no text in this HTML page")
            result.documents.append(DocumentInput(key, title or _title_from_name(path), body, where=where))
        elif suffix in SUBTITLE_SUFFIXES:
            content_format = SUBTITLE_SUFFIXES[suffix]
            parse_subtitles(text, content_format)  # refuse an unreadable file now, not in a worker later
            result.documents.append(
                DocumentInput(
                    key,
                    _title_from_name(path),
                    text,
                    content_format=content_format,
                    where=where,
                    source_kind="video_subtitles",
                )
            )
        else:
            result.documents.append(
                DocumentInput(key, _markdown_title(text) or _title_from_name(path), text, where=where)
            )
    except (_ReadError, SubtitleError) as exc:
        result.errors.append(SourceError(where, str(exc)))
    return result


def _read_jsonl(path: Path, key: str, text: str) -> ReadResult:
    result = ReadResult()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(SourceError(where, f"malformed JSON line ({exc.msg} at column {exc.colno})"))
            continue
        problem = _jsonl_problem(record)
        if problem:
            result.errors.append(SourceError(where, problem))
            continue
        content = record.get("content", record.get("text"))
        if record.get("id") not in (None, ""):
            source_key = f"id:{record['id']}"
        elif record.get("url"):
            source_key = f"url:{record['url']}"
        else:
            source_key = f"{key}#{number}"
        result.documents.append(
            DocumentInput(
                source_key=source_key,
                title=record["title"].strip(),
                content=content,
                content_format=record.get("format") or "text",
                where=where,
                category=record.get("category"),
                tags=record.get("tags"),
                source_kind=record.get("source_kind"),
                source_url=record.get("url") or "",
                language=record.get("language"),
            )
        )
    if not result.documents and not result.errors:
        result.errors.append(SourceError(str(path), "empty file"))
    return result


def _jsonl_problem(record) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    unknown = set(record) - _JSONL_FIELDS
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_JSONL_FIELDS))})"
    if not isinstance(record.get("title"), str) or not record["title"].strip():
        return "missing 'title' (a non-empty string)"
    content = record.get("content", record.get("text"))
    if not isinstance(content, str) or not content.strip():
        return "missing 'content' (a non-empty string)"
    for name in ("category", "source_kind", "language", "url", "format"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"'{name}' must be a string"
    tags = record.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        return "'tags' must be a list of strings"
    if record.get("format") not in (None, "text", "srt", "vtt"):
        return "'format' must be text, srt or vtt"
    if record.get("format") in ("srt", "vtt"):
        try:
            parse_subtitles(content, record["format"])
        except SubtitleError as exc:
            return str(exc)
    return None


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.name


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
        if line.strip():
            return None
    return None


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    _BLOCK = {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "li",
        "ul",
        "ol",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "main",
        "aside",
        "nav",
        "dd",
        "dt",
        "figcaption",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.first_h1 = ""
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
            self._in_h1 = tag == "h1" and not self.first_h1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n\n")
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if self._skip_depth:
            return
        text = re.sub(r"\s+", " ", data)
        if self._in_h1:
            self.first_h1 += text
        self.parts.append(text)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page: visible text only, blocks as paragraphs."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    paragraphs = [re.sub(r"[ \t]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    body = "\n\n".join(p for p in paragraphs if p)
    title = (parser.title.strip() or parser.first_h1.strip())[:300]
    return title, body
