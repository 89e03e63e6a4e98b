"""Rendering shared by the coach's admin pages: money, and an answer side by side with its question and
the chunks it quoted."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from ..models import QuestionLog

if TYPE_CHECKING:
    from knowledge.models import Chunk


def money(value) -> str:
    value = Decimal(value or 0)
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    if value >= Decimal("0.01"):
        return f"${value:.4f}"
    # One ask costs fractions of a cent: every stored digit counts ($0.00225).
    return f"${value.quantize(Decimal('0.00000001')).normalize():f}" if value else "$0"


def _document_admin_url(document_id) -> str | None:
    try:
        return reverse("admin:knowledge_document_change", args=[document_id])
    except NoReverseMatch:
        return None


def _chunks_by_id(logs: list[QuestionLog]) -> dict[int, Chunk]:
    from knowledge.models import Chunk

    ids = {source.get("chunk_id") for log in logs for source in log.sources or [] if isinstance(source, dict)}
    ids = {chunk_id for chunk_id in ids if isinstance(chunk_id, int)}
    return Chunk.objects.in_bulk(ids) if ids else {}


def _source_item(number: int, source: dict[str, Any], chunk: Chunk | None) -> str:
    title = source.get("title") or gettext("(untitled)")
    document_url = _document_admin_url(source.get("document_id")) if source.get("document_id") else None
    links = []
    if document_url:
        links.append(
            format_html(
                '<a class="open-document" href="{}">{}</a>', document_url, gettext("open the document to fix it")
            )
        )
    if str(source.get("url") or "").startswith(("https://", "http://")):
        links.append(
            format_html('<a href="{}" rel="noreferrer" target="_blank">{}</a>', source["url"], gettext("source"))
        )
    when = ""
    if source.get("start_time") is not None:
        seconds = int(source["start_time"])
        when = " " + gettext("at %(time)s") % {"time": f"{seconds // 60}:{seconds % 60:02d}"}
    text = chunk.text if chunk is not None else gettext("(this chunk is no longer stored)")
    return format_html(
        '<li><div><b>[{}] {}</b>{} <span class="chunk-id">{}</span> {}</div><blockquote class="chunk">{}'
        "</blockquote></li>",
        number,
        title,
        when,
        gettext("chunk %(id)s") % {"id": source.get("chunk_id", "?")},
        mark_safe(" · ".join(links)),  # noqa: S308 - each link was built by format_html
        text,
    )


def _chunk_of(source: dict[str, Any], chunks: dict[int, Chunk]) -> Chunk | None:
    chunk_id = source.get("chunk_id")
    return chunks.get(chunk_id) if isinstance(chunk_id, int) else None


def answer_panel(log: QuestionLog, chunks: dict[int, Chunk] | None = None) -> str:
    """Question, answer and the sources (with the text of each chunk used) side by side."""
    chunks = _chunks_by_id([log]) if chunks is None else chunks
    sources = [source for source in log.sources or [] if isinstance(source, dict)]
    items = (
        mark_safe(  # noqa: S308 - each item was built by format_html
            "".join(_source_item(n, source, _chunk_of(source, chunks)) for n, source in enumerate(sources, 1))
        )
        if sources
        else format_html('<p class="none">{}</p>', gettext("No sources: answered without retrieved chunks."))
    )
    return format_html(
        '<div class="answer-panel">'
        '<section><h3>{}</h3><div class="text">{}</div></section>'
        '<section><h3>{}</h3><div class="text">{}</div></section>'
        "<section><h3>{}</h3><ol>{}</ol></section></div>",
        gettext("Question"),
        log.question,
        gettext("Answer"),
        log.answer or gettext("(no answer)"),
        gettext("Sources (%(count)d)") % {"count": len(sources)},
        items,
    )
