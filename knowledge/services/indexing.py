"""Indexing a document: stage the chunks of its content, summarise the over-long ones, embed them (in
Celery tasks, or inline) and make them the live ones in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DateTimeField, F, Func, Q, QuerySet
from django.utils import timezone

from ai.embeddings import get_embedder

from .. import chunking
from ..models import Chunk, Document
from ..summaries import summarize_chunk
from .changes import _document_changed_on_commit

T = TypeVar("T")

SUMMARY_BATCH_SIZE = 8


def _db_now() -> Func:
    # The database's clock for both ends of "embedded since indexing started": web and worker
    # machines' clocks may differ. statement_timestamp(), unlike now(), moves on within a transaction.
    return Func(function="statement_timestamp", output_field=DateTimeField())


def _pending(chunks: QuerySet[Chunk], model_name: str) -> QuerySet[Chunk]:
    """Chunks of the document's current content still to be summarised or (re-)embedded."""
    return chunks.filter(content_hash=F("document__content_hash")).filter(
        Q(needs_summary=True)
        | Q(embedding__isnull=True)
        | ~Q(embedding_model=model_name)
        | Q(embedded_at__isnull=True)
        | Q(embedded_at__lt=F("document__index_started_at"))
    )


def _index_plan(*, document: Document, pieces: list[chunking.Piece]) -> None:
    """Stage the chunks of the document's current content (inside the caller's transaction)."""
    # Chunks staged for an earlier edit that never went live are obsolete now.
    Chunk.objects.filter(document=document).exclude(content_hash=document.indexed_hash).delete()
    if document.content_hash == document.indexed_hash:
        # Content went back to what is live: nothing to stage.
        total = Chunk.objects.filter(document=document).count()
        Document.objects.filter(pk=document.pk).update(
            index_status=Document.IndexStatus.READY, index_total=total, index_done=total, index_error=""
        )
        return
    Chunk.objects.bulk_create(
        Chunk(
            document=document,
            content_hash=document.content_hash,
            position=position,
            text=piece.text,
            token_count=piece.token_count,
            needs_summary=piece.needs_summary,
            start_time=piece.start_time,
            end_time=piece.end_time,
            game=document.game,
            category=document.category,
            tags=document.tags,
            language=document.language,
        )
        for position, piece in enumerate(pieces)
    )
    Document.objects.filter(pk=document.pk).update(
        index_status=Document.IndexStatus.INDEXING,
        index_started_at=_db_now(),
        index_total=len(pieces),
        index_done=0,
        index_error="",
    )


def _index_dispatch(*, document: Document) -> None:
    """Queue Celery tasks for the document's pending work once the caller's transaction commits."""
    from .. import tasks

    document_id = document.pk

    def queue() -> None:
        current = Chunk.objects.filter(document_id=document_id)
        pending = _pending(current, get_embedder().model_name)
        to_summarise = list(pending.filter(needs_summary=True).order_by("position").values_list("pk", flat=True))
        to_embed = list(pending.filter(needs_summary=False).order_by("position").values_list("pk", flat=True))
        for batch in _batches(to_summarise, SUMMARY_BATCH_SIZE):
            tasks.chunks_summarize.delay(batch)
        for batch in _batches(to_embed, settings.EMBEDDING_BATCH_SIZE):
            tasks.chunks_embed.delay(batch)
        if not to_summarise and not to_embed:
            tasks.document_index_finish.delay(document_id)

    transaction.on_commit(queue)


def _batches(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def document_index_run(*, document_id: int, progress: Callable[[int, int], None] | None = None) -> Document:
    """Do the document's pending indexing work here and now (ingest --sync, the demo loader)."""
    model = get_embedder().model_name
    current = Chunk.objects.filter(document_id=document_id)
    try:
        to_summarise = list(_pending(current, model).filter(needs_summary=True).values_list("pk", flat=True))
        for batch in _batches(to_summarise, SUMMARY_BATCH_SIZE):
            chunks_summarize(chunk_ids=batch, queue_embedding=False)
        to_embed = list(_pending(current, model).order_by("position").values_list("pk", flat=True))
        for done, batch in enumerate(_batches(to_embed, settings.EMBEDDING_BATCH_SIZE), start=1):
            chunks_embed(chunk_ids=batch, finish=False)
            if progress:
                progress(min(done * settings.EMBEDDING_BATCH_SIZE, len(to_embed)), len(to_embed))
    except Exception as exc:
        document_index_failed(document_ids=[document_id], error=f"{type(exc).__name__}: {exc}")
        raise
    document_index_finish(document_id=document_id)
    return Document.objects.get(pk=document_id)


def chunks_summarize(*, chunk_ids: list[int], queue_embedding: bool = True) -> int:
    """Replace each over-long piece by its summary (summaries.summarize_chunk); safe to repeat."""
    done = 0
    for chunk in Chunk.objects.filter(pk__in=chunk_ids, needs_summary=True).only("pk", "text"):
        summary = summarize_chunk(chunk.text).strip()
        if not summary:  # never store an empty piece: keep the start of the original instead
            encoding = chunking._encoding()
            summary = encoding.decode(encoding.encode(chunk.text)[: settings.CHUNK_SUMMARIZE_OVER_TOKENS])
        done += Chunk.objects.filter(pk=chunk.pk, needs_summary=True).update(
            text=summary, token_count=chunking.count(summary), needs_summary=False, summarized=True
        )
    if queue_embedding and chunk_ids:
        from .. import tasks

        ids = list(chunk_ids)
        transaction.on_commit(lambda: tasks.chunks_embed.delay(ids))
    return done


def chunks_embed(*, chunk_ids: list[int], finish: bool = True) -> int:
    """Embed the given chunks that still need it, in one provider call; then try to finish their documents."""
    embedder = get_embedder()
    chunks = list(
        _pending(Chunk.objects.filter(pk__in=chunk_ids, needs_summary=False), embedder.model_name)
        .select_related("document")
        .only("pk", "text", "document_id", "document__title")
        .order_by("pk")
    )
    if chunks:
        # The document's title goes with each of its chunks: a later chunk of "Malenia, phase 2" rarely
        # names her, and the question does.
        vectors = embedder.embed([f"{chunk.document.title}\n{chunk.text}" for chunk in chunks])
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk.embedding, chunk.embedding_model = vector, embedder.model_name
        with transaction.atomic():
            Chunk.objects.bulk_update(chunks, ["embedding", "embedding_model"])
            Chunk.objects.filter(pk__in=[chunk.pk for chunk in chunks]).update(embedded_at=_db_now())
    if finish:
        document_ids = set(Chunk.objects.filter(pk__in=chunk_ids).values_list("document_id", flat=True))
        for document_id in sorted(document_ids):
            document_index_finish(document_id=document_id)
    return len(chunks)


def document_index_finish(*, document_id: int) -> bool:
    """Record progress; when every current chunk is embedded, make them the live ones in one transaction."""
    model = get_embedder().model_name
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            return False
        current = Chunk.objects.filter(document=document, content_hash=document.content_hash)
        total = current.count()
        pending = _pending(current, model).count()
        if pending:
            Document.objects.filter(pk=document_id).update(index_total=total, index_done=total - pending)
            return False
        went_live = document.indexed_hash != document.content_hash
        Chunk.objects.filter(document=document).exclude(content_hash=document.content_hash).delete()
        current.update(searchable=document.status == Document.Status.PUBLISHED)
        Document.objects.filter(pk=document_id).update(
            indexed_hash=document.content_hash,
            index_status=Document.IndexStatus.READY,
            index_total=total,
            index_done=total,
            index_error="",
            indexed_at=timezone.now(),
        )
        if went_live and document.indexed_hash:
            _document_changed_on_commit(document_id=document_id)  # answers built on the old chunks
    return True


def document_index_failed(*, document_ids: Iterable[int], error: str) -> None:
    """Indexing gave up (retries exhausted): staff see why; the live chunks keep answering."""
    Document.objects.filter(pk__in=list(document_ids)).exclude(index_status=Document.IndexStatus.READY).update(
        index_status=Document.IndexStatus.FAILED, index_error=error[:2000]
    )


def chunks_index_failed(*, chunk_ids: Iterable[int], error: str) -> None:
    document_ids = set(Chunk.objects.filter(pk__in=list(chunk_ids)).values_list("document_id", flat=True))
    document_index_failed(document_ids=document_ids, error=error)


def _searchable_refresh(*, document: Document) -> None:
    chunks = Chunk.objects.filter(document=document)
    if document.status == Document.Status.PUBLISHED and document.indexed_hash:
        chunks.filter(content_hash=document.indexed_hash, embedding__isnull=False).exclude(embedding_model="").update(
            searchable=True
        )
    else:
        chunks.filter(searchable=True).update(searchable=False)


def embedding_column_dimensions() -> int | None:
    """The vector size the chunk table holds (its migration), to refuse embeddings of another size."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'knowledge_chunk'::regclass AND attname = 'embedding'"
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None
