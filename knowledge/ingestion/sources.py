"""Reading one source file (.md .txt .html .srt .vtt .jsonl) into the documents it holds, or the reason
it cannot be read."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..chunking import SubtitleError, parse_subtitles
from .html_text import html_to_text
from .titles import _subtitle_header_title, _title_cut, _title_from_name, text_title

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
SUBTITLE_SUFFIXES = {".srt": "srt", ".vtt": "vtt"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | set(SUBTITLE_SUFFIXES) | {".jsonl"}
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")
_JSONL_FIELDS = {
    "id", "title", "content", "text", "question", "answer", "url", "source_url", "game", "category", "tags",
    "source_kind", "language", "format",
}  # fmt: skip


@dataclass
class DocumentInput:
    """One document as its source describes it; None fields fall back to the manifest, then the command."""

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
    game: str | None = None
    # The identity ingestion gave this source before it was stable (a path relative to the working
    # directory): a document still under it is taken over instead of duplicated.
    former_source_key: str = ""

    def ingest_fields(self) -> dict[str, Any]:
        """What the source owns of its document, as document_ingest takes it (the game and status aside, and
        former_source_key, which only the ingest command's paths can match)."""
        return {
            "source_key": self.source_key, "title": self.title, "content": self.content, "category": self.category,
            "tags": self.tags, "source_kind": self.source_kind, "content_format": self.content_format,
            "language": self.language, "source_url": self.source_url,
        }  # fmt: skip


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
    """The identity ingestion used to give a file: its path relative to the working directory when
    under it, else absolute. Kept to recognise documents ingested that way (former_source_key)."""
    resolved = path.resolve()
    try:
        return f"file:{resolved.relative_to(Path.cwd().resolve()).as_posix()}"
    except ValueError:
        return f"file:{resolved.as_posix()}"


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


def read_file(path: Path, *, source_key: str | None = None, former_source_key: str = "") -> ReadResult:
    """The documents in one file, or the reason it cannot be read (jsonl: per line, good lines kept).

    source_key is the file's identity (default: its path as seen from the working directory); a jsonl
    line's is its id, else its url, else the file's with '#<line>'.
    """
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return read_source(str(path), b"")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ReadResult(errors=[SourceError(str(path), f"unreadable: {exc.strerror or exc}")])
    key = source_key or source_key_for(path)
    return read_source(str(path), raw, source_key=key, former_source_key=former_source_key)


def read_source(name: str, data: bytes, *, source_key: str | None = None, former_source_key: str = "") -> ReadResult:
    """read_file for content already in hand (an upload): `name` gives the type, the messages' place
    and the fallback title; source_key defaults to 'file:<name>'."""
    where = name
    path = PurePosixPath(name.replace("\\", "/"))
    suffix = path.suffix.lower()
    result = ReadResult()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        result.errors.append(
            SourceError(where, f"unsupported file type '{suffix or path.name}' (supported: {supported})")
        )
        return result
    try:
        text = _decode(data)
    except _ReadError as exc:
        result.errors.append(SourceError(where, str(exc)))
        return result
    if not text.strip():
        result.errors.append(SourceError(where, "empty file"))
        return result
    key = source_key or f"file:{path.as_posix()}"
    former = former_source_key if former_source_key != key else ""
    try:
        if suffix == ".jsonl":
            return _read_jsonl(where, key, text, former)
        title: str | None
        if suffix in HTML_SUFFIXES:
            title, body = html_to_text(text)
            if not body.strip():
                raise _ReadError("no text in this HTML page")
            document = DocumentInput(key, title or _title_from_name(path), body, where=where)
        elif suffix in SUBTITLE_SUFFIXES:
            content_format = SUBTITLE_SUFFIXES[suffix]
            cues = parse_subtitles(text, content_format)  # refuse an unreadable file now, not in a worker later
            title = _subtitle_header_title(text) if content_format == "vtt" else None
            document = DocumentInput(
                key,
                title or _title_cut(cues[0].text) or _title_from_name(path),
                text,
                content_format=content_format,
                where=where,
                source_kind="video_subtitles",
            )
        else:
            title = text_title(text, plain=suffix == ".txt")
            document = DocumentInput(key, title or _title_from_name(path), text, where=where)
        document.former_source_key = former
        result.documents.append(document)
    except (_ReadError, SubtitleError) as exc:
        result.errors.append(SourceError(where, str(exc)))
    return result


def _read_jsonl(name: str, key: str, text: str, former_key: str = "") -> ReadResult:
    result = ReadResult()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.errors.append(SourceError(where, f"malformed JSON line ({exc.msg} at column {exc.colno})"))
            continue
        problem = _jsonl_problem(record)
        if problem:
            result.errors.append(SourceError(where, problem))
            continue
        content = _jsonl_content(record)
        url = record.get("url") or record.get("source_url") or ""
        former = ""
        if record.get("id") not in (None, ""):
            source_key = f"id:{record['id']}"
        elif url:
            source_key = f"url:{url}"
        else:
            source_key, former = f"{key}#{number}", f"{former_key}#{number}" if former_key else ""
        result.documents.append(
            DocumentInput(
                source_key=source_key,
                title=(record.get("title") or record["question"]).strip(),
                content=content,
                content_format=record.get("format") or "text",
                where=where,
                category=record.get("category"),
                tags=record.get("tags"),
                source_kind=record.get("source_kind") or ("faq" if record.get("question") else None),
                source_url=url,
                language=record.get("language"),
                game=record.get("game"),
                former_source_key=former,
            )
        )
    if not result.documents and not result.errors:
        result.errors.append(SourceError(name, "empty file"))
    return result


def _jsonl_content(record: dict):
    """'content' (or 'text'); an FAQ line may give 'question' and 'answer' instead."""
    content = record.get("content", record.get("text"))
    if content is None and isinstance(record.get("question"), str) and isinstance(record.get("answer"), str):
        return f"{record['question'].strip()}\n\n{record['answer'].strip()}"
    return content


def _jsonl_problem(record) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    unknown = set(record) - _JSONL_FIELDS
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_JSONL_FIELDS))})"
    for name in ("question", "answer"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"'{name}' must be a string"
    title = record.get("title") or record.get("question")
    if not isinstance(title, str) or not title.strip():
        return "missing 'title' (a non-empty string)"
    content = _jsonl_content(record)
    if not isinstance(content, str) or not content.strip():
        return "missing 'content' (a non-empty string; or 'question' and 'answer')"
    for name in ("game", "category", "source_kind", "language", "url", "source_url", "format"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"'{name}' must be a string"
    if record.get("url") and record.get("source_url") and record["url"] != record["source_url"]:
        return "'url' and 'source_url' differ (give one)"
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
