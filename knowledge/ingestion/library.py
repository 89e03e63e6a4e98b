"""A library: the files and folders named, each document with its metadata decided (its own, the
manifest's, the command's defaults) and an identity that is the same from any working directory."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .manifest import Manifest, ManifestEntry
from .sources import SUPPORTED_SUFFIXES, DocumentInput, SourceError, read_file, source_key_for


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
        return Counter(document.game for document in self.documents if document.game)


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
            assert document.game is not None  # a document without one is a problem above
            identities[(document.game, document.source_key)] = item.where
            file.documents.append(document)
        files.append(file)
    seen = {source.relative for source in sources}
    for relative in sorted(set(listed) - seen):
        assert manifest is not None  # only a manifest lists files
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
