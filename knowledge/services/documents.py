"""Writes on documents: create, edit, publish, delete, ingest from a source and re-embed; each edit stages
the indexing it needs (services.indexing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q

from accounts.models import User
from ai.embeddings import get_embedder

from .. import chunking
from ..models import Chunk, Document, Game
from .changes import _document_changed_on_commit
from .games import _game_category_add
from .indexing import _db_now, _index_dispatch, _index_plan, _searchable_refresh, document_index_run

# Fields a staff edit or a re-ingest may change; the rest (hashes, progress) belong to indexing.
DOCUMENT_FIELDS = (
    "game",
    "title",
    "content",
    "content_format",
    "category",
    "tags",
    "source_kind",
    "language",
    "source_url",
    "status",
)
_FILTER_FIELDS = {"game", "category", "tags", "language"}


@dataclass(frozen=True)
class IngestOutcome:
    outcome: str  # "new" | "changed" | "unchanged"
    document_id: int | None
    chunks: int  # chunks made (0 when unchanged or only metadata changed)
    tokens: int
    summarized: int  # pieces that go through summarize_chunk


def _pieces(content: str, content_format: str) -> list[chunking.Piece]:
    try:
        return chunking.pieces_for(content, content_format)
    except chunking.SubtitleError as exc:
        raise ValidationError({"content": str(exc)}) from None


def _clean_tags(tags: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))


def document_create(
    *,
    game: Game,
    title: str,
    content: str,
    category: str,
    tags: Iterable[str] = (),
    source_kind: str = Document.SourceKind.GUIDE,
    content_format: str = Document.Format.TEXT,
    language: str | None = None,
    source_url: str = "",
    source_key: str = "",
    status: str = Document.Status.DRAFT,
    updated_by: User | None = None,
    sync: bool = False,
) -> Document:
    """Create a document and index it: in the background, or inline (sync) before returning."""
    from ..ingestion.sources import detect_language

    document = Document(
        game=game,
        title=title.strip(),
        content=chunking.normalise(content),
        category=category.strip(),
        tags=_clean_tags(tags),
        source_kind=source_kind,
        content_format=content_format,
        language=language or detect_language(content),
        source_url=source_url,
        source_key=source_key,
        status=status,
        updated_by=updated_by,
    )
    document.content_hash = chunking.content_hash(document.content, document.content_format)
    document.full_clean()
    pieces = _pieces(document.content, document.content_format)
    with transaction.atomic():
        document.save()
        _game_category_add(game=game, category=document.category)
        _index_plan(document=document, pieces=pieces)
        if not sync:
            _index_dispatch(document=document)
    if sync:
        document_index_run(document_id=document.pk)
        document.refresh_from_db()
    return document


def document_update(
    *, document: Document, data: dict[str, Any], updated_by: User | None = None, sync: bool = False
) -> Document:
    """Apply changed fields. Changed content is re-chunked and re-embedded (in the background unless
    sync); its old chunks keep answering until the new ones replace them in one transaction."""
    unknown = set(data) - set(DOCUMENT_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        before = {name: getattr(document, name) for name in data}
        for name, value in data.items():
            if name == "content":
                value = chunking.normalise(value)
            elif name == "tags":
                value = _clean_tags(value)
            elif name in ("title", "category") and isinstance(value, str):
                value = value.strip()
            setattr(document, name, value)
        changed = {name for name in data if getattr(document, name) != before[name]}
        if not changed:
            return document
        new_hash = chunking.content_hash(document.content, document.content_format)
        content_changed = new_hash != document.content_hash
        document.content_hash = new_hash
        document.updated_by = updated_by
        document.full_clean()
        pieces = _pieces(document.content, document.content_format) if content_changed else None
        document.save()
        if changed & _FILTER_FIELDS:
            Chunk.objects.filter(document=document).update(
                game=document.game, category=document.category, tags=document.tags, language=document.language
            )
            _game_category_add(game=document.game, category=document.category)
        if "status" in changed:
            _searchable_refresh(document=document)
        if pieces is not None:  # the content changed
            _index_plan(document=document, pieces=pieces)
            if not sync:
                _index_dispatch(document=document)
        unpublished = "status" in changed and document.status != Document.Status.PUBLISHED
        if content_changed or unpublished or changed & _FILTER_FIELDS:
            _document_changed_on_commit(document_id=document.pk)
    if sync and content_changed:
        document_index_run(document_id=document.pk)
        document.refresh_from_db()
    return document


def document_publish(*, document: Document, updated_by: User | None = None) -> Document:
    return document_update(document=document, data={"status": Document.Status.PUBLISHED}, updated_by=updated_by)


def document_unpublish(*, document: Document, updated_by: User | None = None) -> Document:
    return document_update(document=document, data={"status": Document.Status.DRAFT}, updated_by=updated_by)


def document_delete(*, document: Document) -> None:
    with transaction.atomic():
        document_id = document.pk
        document.delete()
        _document_changed_on_commit(document_id=document_id)


def document_ingest(
    *,
    game: Game,
    source_key: str,
    title: str,
    content: str,
    category: str,
    tags: Iterable[str] = (),
    source_kind: str = Document.SourceKind.GUIDE,
    content_format: str = Document.Format.TEXT,
    language: str | None = None,
    source_url: str = "",
    status: str = Document.Status.PUBLISHED,
    former_source_key: str = "",
    dry_run: bool = False,
    sync: bool = False,
) -> IngestOutcome:
    """Create or update the document a source describes; unchanged content changes nothing.

    The source owns title, content, category, tags, kind, language and URL; the status of an existing
    document is the staff's and is left alone. A document found only under former_source_key (the
    identity an older ingestion gave the same source) is given source_key, not duplicated.
    dry_run reports what would happen and writes nothing.
    """
    from ..ingestion.sources import detect_language

    content = chunking.normalise(content)
    pieces = _pieces(content, content_format)
    stats = (len(pieces), sum(p.token_count for p in pieces), sum(p.needs_summary for p in pieces))
    existing = Document.objects.filter(game=game, source_key=source_key).first()
    if existing is None and former_source_key and former_source_key != source_key:
        existing = Document.objects.filter(game=game, source_key=former_source_key).first()
        if existing is not None and not dry_run:
            Document.objects.filter(pk=existing.pk).update(source_key=source_key)
            existing.source_key = source_key
    if existing is None:
        document_id = None
        if not dry_run:
            document_id = document_create(
                game=game,
                title=title,
                content=content,
                category=category,
                tags=tags,
                source_kind=source_kind,
                content_format=content_format,
                language=language,
                source_url=source_url,
                source_key=source_key,
                status=status,
                sync=sync,
            ).pk
        return IngestOutcome("new", document_id, *stats)
    data = {
        "title": title.strip(),
        "content": content,
        "content_format": content_format,
        "category": category.strip(),
        "tags": _clean_tags(tags),
        "source_kind": source_kind,
        "language": language or detect_language(content),
        "source_url": source_url,
    }
    changed = {name: value for name, value in data.items() if getattr(existing, name) != value}
    if not changed:
        if not dry_run and existing.index_status != Document.IndexStatus.READY:
            document_index_resume(document=existing, sync=sync)  # an earlier run stopped half-way
        return IngestOutcome("unchanged", existing.pk, 0, 0, 0)
    content_changed = chunking.content_hash(content, content_format) != existing.content_hash
    if not dry_run:
        document_update(document=existing, data=changed, sync=sync)
    return IngestOutcome("changed", existing.pk, *(stats if content_changed else (0, 0, 0)))


def document_reembed(*, document: Document, sync: bool = False) -> None:
    """Embed the document's current chunks again with the configured model (it stays searchable)."""
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        current = Chunk.objects.filter(document=document, content_hash=document.content_hash)
        if not current.exists():
            _index_plan(document=document, pieces=_pieces(document.content, document.content_format))
        else:
            Document.objects.filter(pk=document.pk).update(
                index_status=Document.IndexStatus.INDEXING,
                index_started_at=_db_now(),
                index_total=current.count(),
                index_done=0,
                index_error="",
            )
        if not sync:
            _index_dispatch(document=document)
    if sync:
        document_index_run(document_id=document.pk)


def document_index_resume(*, document: Document, sync: bool = False) -> None:
    """Queue (or run) whatever indexing work the document still has; nothing when it is done."""
    if sync:
        document_index_run(document_id=document.pk)
        return
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document.pk)
        if not Chunk.objects.filter(document=document, content_hash=document.content_hash).exists():
            _index_plan(document=document, pieces=_pieces(document.content, document.content_format))
        else:
            Document.objects.filter(pk=document.pk).update(index_status=Document.IndexStatus.INDEXING, index_error="")
        _index_dispatch(document=document)


def documents_reembed_stale(*, game: Game | None = None, everything: bool = False, sync: bool = False) -> int:
    """Re-embed documents that have chunks from another embedding model (all of them with everything)."""
    model = get_embedder().model_name
    documents = Document.objects.all()
    if game is not None:
        documents = documents.filter(game=game)
    if not everything:
        stale = Chunk.objects.filter(content_hash=F("document__content_hash")).filter(
            Q(embedding__isnull=True) | ~Q(embedding_model=model)
        )
        documents = documents.filter(pk__in=stale.values("document_id"))
    count = 0
    for document in documents.order_by("pk").iterator():
        document_reembed(document=document, sync=sync)
        count += 1
    return count
