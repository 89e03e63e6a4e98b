"""Writes for the admin's upload: files (or a zip with a manifest) stored as a batch, ingested in Celery."""

from __future__ import annotations

import io
import logging
import posixpath
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .ingestion.library import Defaults, library_read
from .ingestion.manifest import Manifest, ManifestError, manifest_load, manifest_path_normalise
from .ingestion.sources import SUPPORTED_SUFFIXES
from .models import Document, Game, UploadBatch, UploadFile
from .services.documents import document_ingest
from .services.games import game_create_or_update
from .services.glossary import glossary_seed

logger = logging.getLogger(__name__)

MANIFEST_NAMES = ("manifest.json", "manifest.yaml", "manifest.yml")
# Files that zip tools add and nobody means to upload.
_ZIP_NOISE = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)")


class UploadRefused(Exception):
    """The upload as a whole cannot be taken (not a zip, a broken manifest): nothing is stored."""


@dataclass
class IncomingFile:
    name: str  # its path in the zip ("/"-separated), or the uploaded file's name
    data: bytes = b""
    error: str = ""


@dataclass
class Incoming:
    """What one upload holds: its files, and the zip's manifest if it had one."""

    files: list[IncomingFile]
    manifest: Manifest | None = None
    manifest_name: str = ""
    manifest_text: str = ""


# --- the manifest ---------------------------------------------------------------------------------
def manifest_read(name: str, raw: bytes) -> Manifest:
    """The zip's manifest, checked by knowledge.ingestion.manifest.manifest_load (the command's own reader), which
    reads a file: so it is put in one, under its own name. UploadRefused lists every problem."""
    with tempfile.TemporaryDirectory(prefix="upload-manifest-") as folder:
        path = Path(folder) / posixpath.basename(name)
        path.write_bytes(raw)
        try:
            return manifest_load(path)
        except ManifestError as exc:
            raise UploadRefused("\n".join(f"{name}: {problem}" for problem in exc.problems)) from None


# --- what was uploaded ------------------------------------------------------------------------------
def _unsafe_path(name: str) -> str | None:
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "unsafe path in the zip (absolute, or with backslashes): skipped"
    if ".." in name.split("/"):
        return "unsafe path in the zip ('..' leads outside it): skipped"
    if "\x00" in name or len(name) > 400:
        return "unsafe path in the zip: skipped"
    return None


def _type_error(name: str) -> str | None:
    suffix = posixpath.splitext(name)[1].lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        return f"unsupported file type '{suffix or name}' (supported: {supported})"
    return None


def _too_large(size: int) -> str:
    return f"too large: over {settings.UPLOAD_MAX_FILE_BYTES // 1024} KB (the limit per file)"


def incoming_files(uploads) -> list[IncomingFile]:
    """Uploaded files (Django UploadedFile) as they will be stored; a refused one carries its error."""
    files = []
    for upload in uploads:
        name = posixpath.basename(upload.name.replace("\\", "/")) or "unnamed"
        problem = _type_error(name)
        if problem is None and upload.size > settings.UPLOAD_MAX_FILE_BYTES:
            problem = _too_large(upload.size)
        files.append(IncomingFile(name, b"" if problem else upload.read(), error=problem or ""))
    return files


def zip_unpack(upload) -> Incoming:
    """The zip's files and its manifest, read with limits that hold whatever its headers claim.

    Refused as a whole (UploadRefused): not a zip, too many members, a broken manifest. Refused per file:
    unsafe paths, unsupported types, encrypted members, a member over the size limit or one that would
    take the total over UPLOAD_MAX_UNPACKED_BYTES (a zip bomb stops there: reads are bounded).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.read()))
        members = [info for info in archive.infolist() if not info.is_dir() and not _ZIP_NOISE.search(info.filename)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UploadRefused(f"{upload.name}: not a readable zip file ({exc})") from None
    if len(members) > settings.UPLOAD_MAX_ZIP_MEMBERS:
        raise UploadRefused(f"{upload.name}: {len(members)} files; at most {settings.UPLOAD_MAX_ZIP_MEMBERS} per zip")
    budget = settings.UPLOAD_MAX_UNPACKED_BYTES
    incoming = Incoming(files=[])
    for info in members:
        name = info.filename
        problem = _unsafe_path(name)
        data = b""
        is_manifest = name.lower() in MANIFEST_NAMES  # at the top of the zip only
        if problem is None and not is_manifest:
            problem = _type_error(name)
        if problem is None and info.flag_bits & 0x1:
            problem = "encrypted: zip the file without a password"
        if problem is None:
            limit = min(settings.UPLOAD_MAX_FILE_BYTES, budget)
            try:
                with archive.open(info) as member:
                    data = member.read(limit + 1)  # never more, whatever the header says
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, RuntimeError) as exc:
                problem = f"unreadable in the zip ({exc})"
            else:
                if len(data) > limit:
                    problem = (
                        _too_large(len(data))
                        if limit == settings.UPLOAD_MAX_FILE_BYTES
                        else f"skipped: the zip unpacks to more than {settings.UPLOAD_MAX_UNPACKED_BYTES // 1024} KB"
                    )
                    data = b""
                budget -= len(data)
        if is_manifest and problem is None:
            incoming.manifest = manifest_read(name, data)
            incoming.manifest_name, incoming.manifest_text = name, data.decode("utf-8-sig")
            continue
        incoming.files.append(IncomingFile(name, b"" if problem else data, error=problem or ""))
    if incoming.manifest is not None:
        names = {file.name for file in incoming.files}
        for listed in sorted(set(incoming.manifest.files) - names):
            incoming.files.append(IncomingFile(listed, error="listed in the manifest but not in the zip"))
    return incoming


def upload_batch_create(
    *,
    incoming: Incoming,
    game: Game | None,
    category: str = "",
    tags: Sequence[str] = (),
    document_status: str = Document.Status.PUBLISHED,
    archive_name: str = "",
    created_by=None,
) -> UploadBatch:
    """Store the files as a batch (refused ones already failed, with their reason) and queue its ingestion."""
    batch = UploadBatch(
        game=game,
        category=category.strip(),
        tags=list(tags),
        document_status=document_status,
        archive_name=archive_name,
        manifest_name=incoming.manifest_name,
        manifest=incoming.manifest_text,
        created_by=created_by,
    )
    batch.full_clean()
    seen: set[str] = set()
    rows = []
    for file in incoming.files:
        error = file.error
        if not error and file.name in seen:
            error = "another file of this upload has the same name: upload it on its own"
        seen.add(file.name)
        rows.append(
            UploadFile(
                name=file.name,
                data=b"" if error else file.data,
                size=len(file.data),
                status=UploadFile.Status.FAILED if error else UploadFile.Status.QUEUED,
                error=error,
            )
        )
    with transaction.atomic():
        batch.save()
        for row in rows:
            row.batch = batch
        UploadFile.objects.bulk_create(rows)
        from . import tasks

        transaction.on_commit(lambda: tasks.upload_batch_ingest.delay(batch.pk))
    return batch


# --- ingesting a batch (the Celery task) ----------------------------------------------------------
def upload_batch_ingest(*, batch_id: int) -> UploadBatch:
    """Ingest the batch's queued files as `manage.py ingest` would a folder with its manifest (the same
    knowledge.ingestion.library.library_read decides each document's game, metadata, title and identity);
    safe to run twice: a file is marked done or failed in the transaction that ingests it."""
    UploadBatch.objects.filter(pk=batch_id, state=UploadBatch.State.QUEUED).update(state=UploadBatch.State.RUNNING)
    batch = UploadBatch.objects.select_related("game").get(pk=batch_id)
    queued = {upload.name: upload.pk for upload in batch.files.filter(status=UploadFile.Status.QUEUED).defer("data")}
    changed_games: set[int] = set()
    if queued:
        with tempfile.TemporaryDirectory(prefix=f"upload-{batch.pk}-") as folder:
            root = Path(folder) / "files"
            root.mkdir()
            for upload in batch.files.filter(pk__in=queued.values()):
                relative = manifest_path_normalise(upload.name)  # names were checked at upload; again, to be sure
                if relative is None or relative != upload.name:
                    _upload_fail(upload.pk, "unsafe path: skipped")
                    queued.pop(upload.name)
                    continue
                (root / relative).parent.mkdir(parents=True, exist_ok=True)
                (root / relative).write_bytes(bytes(upload.data))
            manifest = None
            if batch.manifest:
                manifest = manifest_read(batch.manifest_name, batch.manifest.encode())
                _manifest_games_create(manifest)
            defaults = Defaults(game=batch.game.slug if batch.game else None, category=batch.category or None,
                                tags=batch.tags)  # fmt: skip
            library = library_read([root], manifest=manifest, root=root, defaults=defaults)
            for file in library.files:
                file_id = queued.get(file.source.relative)
                if file_id is not None:
                    changed_games |= upload_file_ingest(file_id=file_id, file=file, batch=batch)
    for game in Game.objects.filter(pk__in=changed_games):
        glossary_seed(game=game)
    UploadBatch.objects.filter(pk=batch_id).update(state=UploadBatch.State.DONE, finished_at=timezone.now())
    batch.refresh_from_db()
    return batch


def _manifest_games_create(manifest: Manifest) -> None:
    """The manifest's "games" that do not exist yet are created, as the command does."""
    for spec in manifest.games:
        if not Game.objects.filter(slug=spec["slug"]).exists():
            game_create_or_update(**spec)


def _upload_fail(file_id: int, error: str) -> None:
    UploadFile.objects.filter(pk=file_id, status=UploadFile.Status.QUEUED).update(
        status=UploadFile.Status.FAILED, error=error
    )


def upload_file_ingest(*, file_id: int, file, batch: UploadBatch) -> set[int]:
    """All the file's documents or none: a bad line or an invalid document fails the whole file, with why.

    `file` is the file as knowledge.ingestion.library.library_read read it; returns the ids of games changed."""
    with transaction.atomic():
        upload = UploadFile.objects.select_for_update().filter(pk=file_id, status=UploadFile.Status.QUEUED).first()
        if upload is None:
            return set()
        where = str(file.source.path)
        outcomes: Counter[str] = Counter()
        changed_games: set[int] = set()
        document_ids: list[int] = []
        try:
            if file.errors:
                raise _FileRefused("\n".join(_for_the_form(str(error)) for error in file.errors))
            with transaction.atomic():  # a savepoint: a failure half-way leaves none of the file's documents
                for item in file.documents:
                    game = Game.objects.filter(slug=item.game).first()
                    if game is None:
                        known = ", ".join(Game.objects.values_list("slug", flat=True)) or "none yet"
                        raise _FileRefused(f"{item.where}: unknown game '{item.game}' (known: {known})")
                    outcome = document_ingest(game=game, **item.ingest_fields(), status=batch.document_status)
                    outcomes[outcome.outcome] += 1
                    assert outcome.document_id is not None  # None only for a new document in a dry run
                    document_ids.append(outcome.document_id)
                    if outcome.outcome != "unchanged":
                        changed_games.add(game.pk)
        except _FileRefused as exc:
            upload.status, upload.error = UploadFile.Status.FAILED, str(exc)
        except ValidationError as exc:
            details = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
            upload.status, upload.error = UploadFile.Status.FAILED, f"invalid document ({details})"
        else:
            upload.status = UploadFile.Status.DONE
            upload.outcome = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
            upload.documents.set(document_ids)
        # Messages name the file as staff know it, not where the worker put it.
        upload.error = upload.error.replace(where, upload.name)
        upload.save(update_fields=["status", "error", "outcome"])
        return changed_games if upload.status == UploadFile.Status.DONE else set()


class _FileRefused(Exception):
    pass


def _for_the_form(message: str) -> str:
    # library_read speaks to the command's user; here the form's fields play --game and --category.
    return message.replace("pass --game", "choose a game on the form").replace(
        "pass --category", "choose a category on the form"
    )
