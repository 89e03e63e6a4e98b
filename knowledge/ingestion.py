"""Reading sources (.md .txt .html .srt .vtt .jsonl, a folder of them, and the manifest that describes
them) into documents to ingest, each with its game, metadata, title and a stable identity."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import yaml

from .chunking import SubtitleError, parse_subtitles
from .models import LANGUAGES, Document

TEXT_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
SUBTITLE_SUFFIXES = {".srt": "srt", ".vtt": "vtt"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | set(SUBTITLE_SUFFIXES) | {".jsonl"}
MANIFEST_SUFFIXES = {".json", ".yaml", ".yml"}
TITLE_MAX_LENGTH = 200
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")
_JSONL_FIELDS = {
    "id", "title", "content", "text", "question", "answer", "url", "source_url", "game", "category", "tags",
    "source_kind", "language", "format",
}  # fmt: skip
_MANIFEST_FIELDS = {"game", "category", "tags", "language", "title", "source_url", "url", "source_kind", "key"}
_MANIFEST_GAME_FIELDS = {"slug", "name_ko", "name_en", "categories"}


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


# --- the manifest ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ManifestEntry:
    """What the manifest says of one file; None where it says nothing."""

    game: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    language: str | None = None
    title: str | None = None
    source_url: str | None = None
    source_kind: str | None = None
    key: str | None = None


@dataclass
class Manifest:
    path: Path
    files: dict[str, ManifestEntry]  # by path relative to the root, "/"-separated
    games: list[dict]  # {slug, name_ko, name_en, categories}: created when missing


class ManifestError(ValueError):
    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


def manifest_path_normalise(name: str) -> str | None:
    """'./boss/a.md' and 'boss\\a.md' -> 'boss/a.md'; None for an absolute path or one going up."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or not parts or ".." in parts:
        return None
    return "/".join(parts)


def manifest_load(path: Path | str) -> Manifest:
    """Read and check a manifest (JSON, or YAML for .yaml/.yml); every problem is listed at once."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise ManifestError(path, ["a manifest is a .json, .yaml or .yml file"])
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(path, [f"unreadable: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ManifestError(path, ["not UTF-8; save it as UTF-8"]) from None
    try:
        data = json.loads(raw) if suffix == ".json" else yaml.safe_load(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(path, [f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"]) from None
    except yaml.YAMLError as exc:
        raise ManifestError(path, [f"malformed YAML ({' '.join(str(exc).split())})"]) from None
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ManifestError(path, ['expected an object with "files": {"<path under the root>": {"game": ...}}'])
    unknown = set(data) - {"files", "games"}
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(sorted(unknown))} (allowed: files, games)")
    files: dict[str, ManifestEntry] = {}
    for name, spec in data["files"].items():
        relative = manifest_path_normalise(str(name))
        if relative is None:
            problems.append(f"file '{name}': give a path relative to the root (no leading '/' or '..')")
            continue
        if relative in files:
            problems.append(f"file '{name}': listed twice")
            continue
        entry, problem = _manifest_entry(spec)
        if problem:
            problems.append(f"file '{name}': {problem}")
            continue
        files[relative] = entry
    games = _manifest_games(data.get("games", []), problems)
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path=path, files=files, games=games)


def _manifest_entry(spec) -> tuple[ManifestEntry | None, str | None]:
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        return None, "expected an object of game, category, tags, language, title, source_url, source_kind, key"
    unknown = set(spec) - _MANIFEST_FIELDS
    if unknown:
        return None, f"unknown field(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_MANIFEST_FIELDS))})"
    for name in _MANIFEST_FIELDS - {"tags"}:
        if spec.get(name) is not None and (not isinstance(spec[name], str) or not spec[name].strip()):
            return None, f"'{name}' must be a non-empty string"
    tags = spec.get("tags")
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
    elif tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        return None, "'tags' must be a list of strings (or one comma-separated string)"
    if spec.get("url") and spec.get("source_url") and spec["url"] != spec["source_url"]:
        return None, "'url' and 'source_url' differ (give one)"
    if spec.get("language") is not None and spec["language"] not in dict(LANGUAGES):
        return None, f"'language' must be one of {', '.join(dict(LANGUAGES))}"
    if spec.get("source_kind") is not None and spec["source_kind"] not in Document.SourceKind.values:
        return None, f"'source_kind' must be one of {', '.join(Document.SourceKind.values)}"
    fields = {name: spec[name].strip() for name in ("game", "category", "language", "title", "source_kind", "key")
              if spec.get(name) is not None}  # fmt: skip
    url = spec.get("source_url") or spec.get("url")
    return ManifestEntry(**fields, tags=tags, source_url=url.strip() if url else None), None


def _manifest_games(games, problems: list[str]) -> list[dict]:
    if not isinstance(games, list):
        problems.append('"games" must be a list of {slug, name_ko, name_en, categories}')
        return []
    checked = []
    for number, spec in enumerate(games, start=1):
        where = f"games[{number}]"
        if not isinstance(spec, dict):
            problems.append(f"{where}: expected an object of slug, name_ko, name_en, categories")
            continue
        unknown = set(spec) - _MANIFEST_GAME_FIELDS
        missing = [name for name in ("slug", "name_ko", "name_en") if not isinstance(spec.get(name), str)]
        categories = spec.get("categories", [])
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        elif missing:
            problems.append(f"{where}: '{missing[0]}' must be a string")
        elif not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            problems.append(f"{where}: 'categories' must be a list of strings")
        else:
            checked.append({**spec, "categories": categories})
    return checked


# --- finding the files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceFile:
    path: Path  # as named (for messages)
    root: Path  # absolute
    relative: str  # under the root, "/"-separated: the file's identity and its name in the manifest


def _absolute(path: Path) -> Path:
    # Not resolve(): a symlinked folder inside the library stays where the library says it is.
    return Path(os.path.abspath(path))


def collect_sources(
    paths: list[str | Path], *, root: str | Path | None = None
) -> tuple[list[SourceFile], list[SourceError], list[tuple[Path, str]]]:
    """The supported files named, or under the folders named (sorted, hidden ones left out), each with
    its root: `root` when given, else the folder named, else (a file named by itself) its own folder.

    Returns (sources, errors, walked) where walked holds each folder read, as (root, its path under it).
    """
    fixed_root = _absolute(Path(root)) if root else None
    sources: list[SourceFile] = []
    errors: list[SourceError] = []
    walked: list[tuple[Path, str]] = []
    seen: set[Path] = set()

    def add(path: Path, base: Path) -> None:
        absolute = _absolute(path)
        if absolute in seen:
            return
        try:
            relative = absolute.relative_to(base).as_posix()
        except ValueError:
            errors.append(SourceError(str(path), f"not under the root {base}"))
            return
        seen.add(absolute)
        sources.append(SourceFile(path=path, root=base, relative=relative))

    for name in paths:
        path = Path(name)
        if path.is_dir():
            base = fixed_root or _absolute(path)
            try:
                prefix = _absolute(path).relative_to(base).as_posix()
                walked.append((base, "" if prefix == "." else prefix))
            except ValueError:
                errors.append(SourceError(str(path), f"not under the root {base}"))
                continue
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file_name in sorted(names):
                    if not file_name.startswith(".") and Path(file_name).suffix.lower() in SUPPORTED_SUFFIXES:
                        add(Path(folder) / file_name, base)
        elif path.exists():
            add(path, fixed_root or _absolute(path).parent)
        else:
            errors.append(SourceError(str(name), "no such file or directory"))
    return sources, errors, walked


# --- reading one file -----------------------------------------------------------------------------
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


# --- titles ---------------------------------------------------------------------------------------
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


# --- a library: its files, their manifest and the command's defaults -----------------------------
@dataclass(frozen=True)
class Defaults:
    """The command's options: what a document gets when neither its jsonl line nor the manifest says."""

    game: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    language: str | None = None
    source_kind: str | None = None


@dataclass
class LibraryFile:
    source: SourceFile
    documents: list[DocumentInput]  # resolved: game, category, tags, kind and title all decided
    errors: list[SourceError]


@dataclass
class Library:
    files: list[LibraryFile]
    errors: list[SourceError]  # paths that are not there, manifest entries that match no file

    @property
    def documents(self) -> list[DocumentInput]:
        return [document for file in self.files for document in file.documents]

    @property
    def all_errors(self) -> list[SourceError]:
        return [*self.errors, *(error for file in self.files for error in file.errors)]

    def game_counts(self) -> Counter[str]:
        return Counter(document.game for document in self.documents)


def library_read(
    paths: list[str | Path],
    *,
    manifest: Manifest | None = None,
    root: str | Path | None = None,
    defaults: Defaults = Defaults(),
) -> Library:
    """Every document in the files and folders given, with its metadata decided: the jsonl line's own,
    else the manifest's entry for the file, else the defaults; and its identity: the manifest's `key`,
    else 'file:<path under the root>' (see collect_sources), the same from any working directory."""
    sources, errors, walked = collect_sources(paths, root=root)
    files: list[LibraryFile] = []
    listed = manifest.files if manifest else {}
    identities: dict[tuple[str, str], str] = {}
    for source in sources:
        entry = listed.get(source.relative) or ManifestEntry()
        key = f"key:{entry.key}" if entry.key else f"file:{source.relative}"
        result = read_file(source.path, source_key=key, former_source_key=source_key_for(source.path))
        lines = source.path.suffix.lower() == ".jsonl"
        file = LibraryFile(source=source, documents=[], errors=list(result.errors))
        for item in result.documents:
            document = _resolve(item, entry, defaults, lines=lines)
            problem = None
            if not document.game:
                problem = (
                    f"no game: list it in the manifest as '{source.relative}', pass --game"
                    + (", or give 'game' on the line" if lines else "")
                    + (" (the manifest's paths are relative to the root, see --root)" if manifest else "")
                )
            elif not document.category:
                problem = "no category: give one in the manifest" + (" or on the line" if lines else "")
                problem += ", or pass --category"
            elif (document.game, document.source_key) in identities:
                first = identities[(document.game, document.source_key)]
                problem = f"same identity '{document.source_key}' as {first}; give --root or a manifest 'key'"
            if problem:
                file.errors.append(SourceError(item.where, problem))
                continue
            identities[(document.game, document.source_key)] = item.where
            file.documents.append(document)
        files.append(file)
    seen = {source.relative for source in sources}
    for relative in sorted(set(listed) - seen):
        for base, prefix in walked:
            if prefix and not relative.startswith(f"{prefix}/"):
                continue
            candidate = base / relative
            if candidate.is_file() and candidate.suffix.lower() not in SUPPORTED_SUFFIXES:
                message = read_file(candidate).errors[0].message
            elif candidate.is_file():
                message = "a hidden file or folder (left out)"
            else:
                message = f"no such file under {base}"
            errors.append(SourceError(str(manifest.path), f"'{relative}' is listed, but {message}"))
            break
    return Library(files=files, errors=errors)


def _resolve(item: DocumentInput, entry: ManifestEntry, defaults: Defaults, *, lines: bool) -> DocumentInput:
    own_kind = item.source_kind if lines else None
    format_kind = None if lines else item.source_kind  # video_subtitles for .srt and .vtt
    tags = item.tags if item.tags is not None else entry.tags if entry.tags is not None else defaults.tags
    return DocumentInput(
        source_key=item.source_key,
        title=item.title if lines else (entry.title or item.title),
        content=item.content,
        content_format=item.content_format,
        where=item.where,
        game=item.game or entry.game or defaults.game,
        category=item.category or entry.category or defaults.category,
        tags=list(tags or []),
        source_kind=own_kind or entry.source_kind or defaults.source_kind or format_kind or "guide",
        source_url=item.source_url or entry.source_url or "",
        language=item.language or entry.language or defaults.language,
        former_source_key=item.former_source_key,
    )


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
