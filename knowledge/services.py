"""Writes on the knowledge base: games, documents and their indexing (chunk, summarise, embed), glossaries."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, F, Func, Q, QuerySet, Value
from django.utils import timezone

from accounts.models import User
from ai.embeddings import get_embedder

from . import chunking
from .models import Chunk, Document, Entity, Game, GlossaryTerm
from .summaries import summarize_chunk

logger = logging.getLogger(__name__)
T = TypeVar("T")

SUMMARY_BATCH_SIZE = 8
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


# --- games ----------------------------------------------------------------------------------------
def game_create_or_update(*, slug: str, name_ko: str, name_en: str, categories: Iterable[str] = ()) -> Game:
    """Create the game, or rename it and add categories after the ones it has; checked before it is saved."""
    game = Game.objects.filter(slug=slug).first() or Game(slug=slug)
    wanted = list(dict.fromkeys([*game.categories, *(c.strip() for c in categories if c.strip())]))
    if game.pk is None or (game.name_ko, game.name_en, game.categories) != (name_ko, name_en, wanted):
        game.name_ko, game.name_en, game.categories = name_ko, name_en, wanted
        game.full_clean()
        game.save()
    return game


def _game_category_add(*, game: Game, category: str) -> None:
    # Keeps "categories in use" complete without reordering what staff arranged.
    field = Game._meta.get_field("categories")
    append = Func(F("categories"), Value(category), function="array_append", output_field=field)
    Game.objects.filter(pk=game.pk).exclude(categories__contains=[category]).update(categories=append)


# --- documents ------------------------------------------------------------------------------------
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
    from .ingestion import detect_language

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
    from .ingestion import detect_language

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


# --- indexing: plan, dispatch, summarise, embed, swap -------------------------------------------------
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
    from . import tasks

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
        from . import tasks

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


# Whatever keeps things built from a document's text (coach's semantic cache) subscribes here from its
# AppConfig.ready, and is told once a change to the document has committed: knowledge knows nothing of it.
DocumentChanged = Callable[..., object]  # called as callback(document_id=...)
_document_changed_subscribers: list[DocumentChanged] = []


def document_changed_subscribe(callback: DocumentChanged) -> None:
    """callback(document_id=...) runs after each commit that changes what the document says or who sees it."""
    if callback not in _document_changed_subscribers:
        _document_changed_subscribers.append(callback)


def _document_changed_on_commit(*, document_id: int) -> None:
    transaction.on_commit(lambda: document_changed_notify(document_id=document_id))


def document_changed_notify(*, document_id: int) -> None:
    for callback in list(_document_changed_subscribers):
        try:
            callback(document_id=document_id)
        except Exception:  # the curator's edit is committed; a failure is reported, cached answers expire by TTL
            name = getattr(callback, "__qualname__", callback)
            logger.exception("%s failed for changed document %s", name, document_id)


# --- glossary -----------------------------------------------------------------------------------------
_EN_WORD = r"[A-Z][A-Za-z0-9'’\-]+"
_EN_NAME = re.compile(rf"{_EN_WORD}(?:(?:\s+(?:of|the|de|von|and)\s+|\s+){_EN_WORD}){{0,3}}")
_KO_PAIR = re.compile(r"((?:[\uac00-\ud7a3]+ ){0,3}[\uac00-\ud7a3]+) ?\(([A-Za-z][A-Za-z0-9'’\- ]{1,60})\)")
# A word ending so (modifiers 떨어지는/강한/된, particles 의/을) leads into a name but is not part of it.
_KO_LEADING_ENDINGS = ("는", "은", "한", "된", "던", "운", "인", "의", "을", "를", "에", "로", "가", "이", "고")
_KO_WORD = re.compile(r"[\uac00-\ud7a3]{2,12}")
_PARTICLE_WORDS = """
은 는 이 가 을 를 의 에 로 와 과 도 만 랑 에서 에게 한테 으로 까지 부터 처럼 보다 이나 이랑 라는 이라는
에서는 에게서 으로는 에서도 에게는 이에요 예요 이다 입니다
"""
_KO_PARTICLES = sorted(_PARTICLE_WORDS.split(), key=len, reverse=True)
# Common words of Korean game guides: recurring, but not names. Staff switch off what slips through.
_KO_COMMON_WORDS = """
공격 패턴 회피 사용 추천 피해 데미지 대미지 페이즈 보스 스킬 아이템 무기 방어 체력 공략 정글 라인 챔피언 게임
플레이 상대 경우 때문 정도 이후 이전 다음 처음 가장 정말 그리고 하지만 그래서 그러면 또는 이번 패치 버전 너프 버프
변경 추가 삭제 시간 거리 위치 방향 타이밍 구간 상황 초반 중반 후반 전투 적들 몬스터 레벨 경험치 골드 아군 적군
라운드 스테이지 지역 장소 근처 주변 뒤로 앞으로 옆으로 왼쪽 오른쪽 점프 구르기 달리기 가드 패링 회복 포션 마법
기술 능력 효과 상태 이상 출혈 독 화염 냉기 번개 신성 피격 연속 한번 두번 세번 여러 모든 각각 하나 이것 그것
저것 여기 거기 우리 당신 여러분 영상 자막 가이드 설명 내용 부분 방법 이유 결과 문제 질문 답변 확인 기본 특히
보통 항상 가끔 절대 반드시 먼저 바로 계속 다시 이제 지금 그냥 아주 매우 조금 많이 빨리 천천히 최대 최소
있습니다 합니다 됩니다 없습니다 하세요 해요 있어요 돼요 에요 니다 구요 그리고요 기회 범위 번째 멀리 반대 공중 순간
"""
_KO_COMMON = set(_KO_COMMON_WORDS.split())
_KO_VERB_ENDINGS = (
    "다",
    "요",
    "죠",
    "네",
    "고",
    "며",
    "면",
    "서",
    "게",
    "지",
    "니",
    "까",
    "야",
    "데",
    "려면",
    "난",
    "한",
    "된",
    "던",
    "운",
)
_EN_COMMON_WORDS = """
The A An This That These Those When If In On At To For From With Without And Or But So You Your It Its
Use Using Tip Tips Note Notes Phase Step Guide Patch Version Update How What Why Where Who Which After Before
During Then Also Keep Stay Dodge Attack Avoid Watch Best Build Early Mid Late Game Good Bad Here There
They We I He She Do Don't Is Are Be Can Will Most All Each Every One Two Three First Second Third
"""
_EN_COMMON = set(_EN_COMMON_WORDS.split())


@dataclass(frozen=True)
class GlossarySeedResult:
    created: int
    updated: int
    candidates: dict[str, int]


def _strip_particle(word: str) -> str | None:
    """The word without its trailing particle; None when what is left is too short to be a name."""
    for particle in _KO_PARTICLES:
        if word.endswith(particle):
            stem = word[: -len(particle)]
            return stem if len(stem) >= 2 else None  # 옆으로, 몸을: a one-syllable stem is no name
    return word


def _korean_pair_name(words: list[str], english_words: int) -> str | None:
    """The Korean side of "물새 난무(Waterfowl Dance)": as many words as the English name has, minus
    leading modifiers and one-syllable words."""
    words = words[-english_words:]
    while len(words) > 1 and (len(words[0]) < 2 or words[0].endswith(_KO_LEADING_ENDINGS)):
        words = words[1:]
    if len(words) == 1:
        return _strip_particle(words[0])
    return " ".join(words)


def _sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip(" \t*_-#>\"'(")
    return not before or before[-1] in ".!?:\n"


def glossary_candidates(texts: Iterable[str], *, min_occurrences: int) -> dict[str, int]:
    """Entity names in a game's documents (one text per document), with how often they occur.

    Three explainable rules: (1) "한국어(English)" pairs, as Korean guides write names: both sides,
    always; (2) capitalised English names of 1-4 words recurring min_occurrences times (a single word
    must also appear mid-sentence once, so "Use" or "Keep" at a sentence start do not count);
    (3) Korean words (particles stripped) recurring min_occurrences times across at least two
    documents, that are neither common guide words nor verb forms.
    """
    pairs: Counter[str] = Counter()
    english: Counter[str] = Counter()
    english_mid: Counter[str] = Counter()
    korean: Counter[str] = Counter()
    korean_documents: Counter[str] = Counter()
    for text in texts:
        for match in _KO_PAIR.finditer(text):
            english_name = match.group(2).strip()
            korean_name = _korean_pair_name(match.group(1).split(), len(english_name.split()))
            if korean_name:
                pairs[korean_name] += 1
            pairs[english_name] += 1
        for match in _EN_NAME.finditer(text):
            words = match.group(0).split()
            while words and words[0] in _EN_COMMON:
                words.pop(0)
            if not words:
                continue
            name = " ".join(words)
            english[name] += 1
            if not _sentence_start(text, match.start()) or len(words) < len(match.group(0).split()):
                english_mid[name] += 1
        seen = set()
        for word in _KO_WORD.findall(text):
            stem = _strip_particle(word)
            if not stem or stem in _KO_COMMON or stem.endswith(_KO_VERB_ENDINGS):
                continue
            korean[stem] += 1
            seen.add(stem)
        korean_documents.update(seen)
    found: dict[str, int] = dict(pairs)
    for name, occurrences in english.items():
        single = " " not in name
        if occurrences >= min_occurrences and (not single or (english_mid[name] and name not in _EN_COMMON)):
            found[name] = max(found.get(name, 0), occurrences)
    for name, occurrences in korean.items():
        if occurrences >= min_occurrences and korean_documents[name] >= 2:
            found[name] = max(found.get(name, 0), occurrences)
    return {name: count for name, count in found.items() if 2 <= len(name) <= 100}


def glossary_seed(*, game: Game) -> GlossarySeedResult:
    """Add recurring names of the game's published documents as glossary terms.

    Idempotent; never re-activates a term staff switched off, never touches staff-added terms.
    """
    texts = Document.objects.filter(game=game, status=Document.Status.PUBLISHED).values_list("title", "content")
    candidates = glossary_candidates(
        (f"{title}\n{content}" for title, content in texts), min_occurrences=settings.GLOSSARY_MIN_OCCURRENCES
    )
    existing = {term.term: term for term in GlossaryTerm.objects.filter(game=game)}
    created = updated = 0
    with transaction.atomic():
        new_terms = [
            GlossaryTerm(game=game, term=name, source=GlossaryTerm.Source.SEEDED, occurrences=count)
            for name, count in candidates.items()
            if name not in existing
        ]
        GlossaryTerm.objects.bulk_create(new_terms, ignore_conflicts=True)
        created = len(new_terms)
        for name, count in candidates.items():
            term = existing.get(name)
            if term and term.source == GlossaryTerm.Source.SEEDED and term.occurrences != count:
                GlossaryTerm.objects.filter(pk=term.pk).update(occurrences=count, updated_at=timezone.now())
                updated += 1
    if created:
        entities_changed(game=game.slug)
    return GlossarySeedResult(created=created, updated=updated, candidates=candidates)


# --- entities: the shipped catalogue, staff's edits ---------------------------------------------------
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
_CATALOGUE_FIELDS = ("kind", "name_en", "name_ko", "aliases")


class CatalogueError(ValueError):
    """A catalogue file that cannot be loaded, or a game without one."""


@dataclass
class CatalogueLoadResult:
    game: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # keys staff edited: left as they are
    removed: int = 0  # catalogue rows no longer in the file


def entities_changed(*, game: str) -> None:
    """Say that a game's entities or glossary changed: this process drops its copy of the index now,
    and every process rebuilds once the transaction commits (a new version token in the cache)."""
    from .selectors import entity_index_version_key, entity_indexes_forget

    def bump() -> None:
        entity_indexes_forget(game)
        try:
            cache.set(entity_index_version_key(game), uuid.uuid4().hex, timeout=None)
        except Exception as exc:  # other processes pick the edit up within ENTITY_INDEX_MAX_SECONDS
            logger.warning("entity index: version of %s not bumped (%s: %s)", game, type(exc).__name__, exc)

    entity_indexes_forget(game)
    transaction.on_commit(bump)


def catalogue_games() -> list[str]:
    """The games with a shipped catalogue (knowledge/catalogue/<slug>.json)."""
    return sorted(path.stem for path in CATALOGUE_DIR.glob("*.json"))


def catalogue_read(*, game: str) -> list[Entity]:
    """The shipped entities of a game, checked (unsaved, without their game)."""
    path = CATALOGUE_DIR / f"{game}.json"
    if not path.exists():
        raise CatalogueError(f"no catalogue for '{game}' (knowledge/catalogue/{game}.json)")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path.name}: {exc}") from exc
    entities, seen = [], set()
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("aliases", []), list):
            raise CatalogueError(f"{path.name} entry {number}: an object with a list of aliases expected")
        entity = Entity(key=item.get("id", ""), kind=item.get("kind", ""), name_en=item.get("en", ""),
                        name_ko=item.get("ko", ""), aliases=list(dict.fromkeys(item.get("aliases", []))),
                        source=Entity.Source.CATALOGUE)  # fmt: skip
        try:
            entity.clean_fields(exclude=["game"])  # no queries: the file is checked as a whole below
        except ValidationError as exc:
            raise CatalogueError(f"{path.name} entry {number} ({entity.key or '?'}): {exc.messages}") from exc
        if not (entity.name_en or entity.name_ko):
            raise CatalogueError(f"{path.name} entry {number} ({entity.key}): neither an English nor a Korean name")
        if entity.key in seen:
            raise CatalogueError(f"{path.name}: id '{entity.key}' twice")
        seen.add(entity.key)
        entities.append(entity)
    return entities


def catalogue_load(*, game: str | None = None) -> list[CatalogueLoadResult]:
    """Write the shipped catalogue of one game (or of every game that has one and exists) as entities.

    Idempotent. A row staff edited (source staff) is left as it is, whatever the file says; catalogue
    rows the file no longer has are removed; rows of other sources are never touched.
    """
    if game is not None:
        if not Game.objects.filter(slug=game).exists():
            raise CatalogueError(f"unknown game '{game}'")
        slugs = [game]
    else:
        slugs = list(Game.objects.filter(slug__in=catalogue_games()).order_by("slug").values_list("slug", flat=True))
    return [_catalogue_load_game(game=Game.objects.get(slug=slug)) for slug in slugs]


def _catalogue_load_game(*, game: Game) -> CatalogueLoadResult:
    shipped = catalogue_read(game=game.slug)
    result = CatalogueLoadResult(game=game.slug)
    with transaction.atomic():
        existing = {entity.key: entity for entity in Entity.objects.select_for_update().filter(game=game)}
        new, changed = [], []
        for entity in shipped:
            current = existing.get(entity.key)
            if current is None:
                entity.game = game
                new.append(entity)
            elif current.source != Entity.Source.CATALOGUE:
                result.kept.append(entity.key)
            elif any(getattr(current, name) != getattr(entity, name) for name in _CATALOGUE_FIELDS):
                for name in _CATALOGUE_FIELDS:
                    setattr(current, name, getattr(entity, name))
                current.updated_at = timezone.now()
                changed.append(current)
            else:
                result.unchanged += 1
        Entity.objects.bulk_create(new)
        Entity.objects.bulk_update(changed, [*_CATALOGUE_FIELDS, "updated_at"])
        gone = {entity.key for entity in shipped}
        result.removed, _ = (
            Entity.objects.filter(game=game, source=Entity.Source.CATALOGUE).exclude(key__in=gone).delete()
        )
        result.created, result.updated = len(new), len(changed)
        if new or changed or result.removed:
            entities_changed(game=game.slug)
    return result


def entity_staff_save(*, entity: Entity) -> Entity:
    """Save an entity as staff edited it: it becomes theirs (source staff), so loading the catalogue
    leaves it alone from now on."""
    entity.source = Entity.Source.STAFF
    entity.aliases = [alias.strip() for alias in dict.fromkeys(entity.aliases) if alias.strip()]
    entity.full_clean()
    entity.save()
    entities_changed(game=entity.game.slug)
    return entity


def embedding_column_dimensions() -> int | None:
    """The vector size the chunk table holds (its migration), to refuse embeddings of another size."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'knowledge_chunk'::regclass AND attname = 'embedding'"
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None
