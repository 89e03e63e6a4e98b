"""The manifest (JSON, or YAML): what each file of a library is (game, category, tags, title ...) and
the games to create; checked as a whole, every problem listed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from ..models import LANGUAGES, Document

MANIFEST_SUFFIXES = {".json", ".yaml", ".yml"}
_MANIFEST_FIELDS = {"game", "category", "tags", "language", "title", "source_url", "url", "source_kind", "key"}
_MANIFEST_GAME_FIELDS = {"slug", "name_ko", "name_en", "categories"}


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
        if entry is None:
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
