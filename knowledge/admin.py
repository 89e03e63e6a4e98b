"""The curation console: games, documents (with their chunks and indexing progress), retrieval test; the upload
and the entity index's names (entities, glossary terms) in upload_admin and entity_admin."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Func
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ai.embeddings import get_embedder

from . import search
from .models import CATEGORY_MAX_LENGTH, TAG_MAX_LENGTH, Chunk, Document, Game
from .services.documents import (
    DOCUMENT_FIELDS,
    document_create,
    document_delete,
    document_publish,
    document_reembed,
    document_unpublish,
    document_update,
)
from .services.glossary import glossary_seed


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ("slug", "name_ko", "name_en", "category_list")
    search_fields = ("slug", "name_ko", "name_en")
    actions = ["seed_glossary"]

    @admin.display(description=_("categories"))
    def category_list(self, game):
        return ", ".join(game.categories)

    @admin.action(description=_("Seed glossary from published documents"))
    def seed_glossary(self, request, queryset):
        for game in queryset:
            result = glossary_seed(game=game)
            self.message_user(request, gettext("%(game)s: %(created)d new term(s), %(updated)d updated.") % {
                "game": game.slug, "created": result.created, "updated": result.updated
            })  # fmt: skip


class CategoryFilter(admin.SimpleListFilter):
    title = _("category")
    parameter_name = "category"

    def lookups(self, request, model_admin):
        categories = Document.objects.order_by("category").values_list("category", flat=True).distinct()
        return [(c, c) for c in categories]

    def queryset(self, request, queryset):
        return queryset.filter(category=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        tags = (
            Document.objects.annotate(tag=Func(F("tags"), function="unnest"))
            .order_by("tag")
            .values_list("tag", flat=True)
            .distinct()
        )
        return [(t, t) for t in tags]

    def queryset(self, request, queryset):
        return queryset.filter(tags__contains=[self.value()]) if self.value() else queryset


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("position", "state", "chunk_text", "token_count", "time_span", "embedding_model")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-searchable", "position")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("document").defer("embedding")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("state"))
    def state(self, chunk):
        if chunk.searchable:
            return gettext("live")
        if chunk.content_hash == chunk.document.indexed_hash:
            return gettext("live (document not published)")
        if chunk.needs_summary:
            return gettext("staged: to summarise")
        return gettext("staged: embedded") if chunk.embedded_at else gettext("staged: to embed")

    @admin.display(description=_("text"))
    def chunk_text(self, chunk):
        marker = gettext("[summary] ") if chunk.summarized else ""
        return format_html('<div style="white-space: pre-wrap; max-width: 60em">{}{}</div>', marker, chunk.text)

    @admin.display(description=_("time"))
    def time_span(self, chunk):
        if chunk.start_time is None:
            return "-"
        return f"{_clock(chunk.start_time)}–{_clock(chunk.end_time or chunk.start_time)}"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class DocumentAdminForm(forms.ModelForm):
    source_url = forms.URLField(required=False, max_length=1000, assume_scheme="https")

    class Meta:
        model = Document
        fields = DOCUMENT_FIELDS

    def clean(self):
        cleaned = super().clean()
        content, content_format = cleaned.get("content"), cleaned.get("content_format")
        if content and content_format in (Document.Format.SRT, Document.Format.VTT):
            from .chunking import SubtitleError, parse_subtitles

            try:
                parse_subtitles(content, content_format)
            except SubtitleError as exc:
                self.add_error("content", str(exc))
        return cleaned


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    form = DocumentAdminForm
    list_display = (
        "title",
        "game",
        "category",
        "tag_list",
        "status",
        "source_kind",
        "language",
        "index_progress",
        "updated_at",
    )
    list_filter = ("game", CategoryFilter, TagFilter, "status", "source_kind", "index_status", "language")
    search_fields = ("title", "content", "source_url", "source_key")
    list_select_related = ("game",)
    actions = ["publish", "unpublish", "reembed"]
    inlines = [ChunkInline]
    readonly_fields = (
        "index_progress",
        "index_error",
        "indexed_at",
        "source_key",
        "content_hash",
        "updated_by",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("game", "title", "category", "tags", "status", "source_kind", "language", "source_url")}),
        (_("Content"), {"fields": ("content_format", "content")}),
        (_("Indexing"), {"fields": ("index_progress", "index_error", "indexed_at", "content_hash", "source_key")}),
        (_("History"), {"fields": ("created_at", "updated_at", "updated_by")}),
    )

    @admin.display(description=_("tags"))
    def tag_list(self, document):
        return ", ".join(document.tags)

    @admin.display(description=_("indexing"))
    def index_progress(self, document):
        return index_progress_text(document)

    # Writes go through the services: they re-chunk, queue embedding and evict cached answers.
    def save_model(self, request, obj, form, change):
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data if name in DOCUMENT_FIELDS}
            document_update(document=obj, data=data, updated_by=request.user)
            obj.refresh_from_db()
            return
        created = document_create(
            **{name: form.cleaned_data[name] for name in DOCUMENT_FIELDS}, updated_by=request.user
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        document_delete(document=obj)

    def delete_queryset(self, request, queryset):
        for document in queryset:
            document_delete(document=document)

    @admin.action(description=_("Publish selected documents"))
    def publish(self, request, queryset):
        for document in queryset:
            document_publish(document=document, updated_by=request.user)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d document published.", "%(count)d documents published.",
                                            count) % {"count": count})  # fmt: skip

    @admin.action(description=_("Unpublish selected documents"))
    def unpublish(self, request, queryset):
        for document in queryset:
            document_unpublish(document=document, updated_by=request.user)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d document unpublished.", "%(count)d documents unpublished.",
                                            count) % {"count": count})  # fmt: skip

    @admin.action(description=_("Re-embed selected documents (in the background)"))
    def reembed(self, request, queryset):
        for document in queryset:
            document_reembed(document=document)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d document queued for re-embedding.",
                                            "%(count)d documents queued for re-embedding.", count)
                          % {"count": count})  # fmt: skip

    def get_urls(self):
        own = [
            path(
                "retrieval-test/",
                self.admin_site.admin_view(self.retrieval_test_view),
                name="knowledge_document_retrieval_test",
            ),
            path(
                "<int:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="knowledge_document_progress",
            ),
        ]
        return own + super().get_urls()

    def progress_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        document = get_object_or_404(Document, pk=object_id)
        return JsonResponse(
            {
                "status": document.index_status,
                "done": document.index_done,
                "total": document.index_total,
                "error": document.index_error,
                "text": index_progress_text(document),
            }
        )

    def retrieval_test_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RetrievalTestForm(request.GET or None)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Retrieval test"),
            "form": form,
            "opts": self.model._meta,
        }
        if form.is_valid():
            embedder = get_embedder()
            data = form.cleaned_data
            hits, plan = search.chunk_search_with_plan(
                game=data["game"].slug,
                embedding=embedder.embed([data["question"]], query=True)[0],
                model_name=embedder.model_name,
                category=data["category"] or None,
                tags=data["tags"] or None,
                k=data["k"] or settings.RETRIEVAL_TOP_K,
            )
            context.update(
                searched=True,
                plan=plan,
                model_name=embedder.model_name,
                hits=[
                    {
                        "hit": hit,
                        "admin_url": reverse("admin:knowledge_document_change", args=[hit.document_id]),
                        "time": _clock(hit.start_time) if hit.start_time is not None else "",
                    }
                    for hit in hits
                ],
            )
        return TemplateResponse(request, "admin/knowledge/retrieval_test.html", context)


def index_progress_text(document: Document) -> str:
    numbers = {"done": document.index_done, "total": document.index_total}
    if document.index_status == Document.IndexStatus.INDEXING:
        return gettext("indexing: %(done)d of %(total)d chunks embedded") % numbers
    if document.index_status == Document.IndexStatus.READY:
        return gettext("ready: %(total)d chunks") % numbers
    if document.index_status == Document.IndexStatus.FAILED:
        return gettext("failed after %(done)d of %(total)d chunks (see the error)") % numbers
    return gettext("pending")


class TagsField(forms.CharField):
    def to_python(self, value):
        tags = [t.strip() for t in (value or "").split(",") if t.strip()]
        for tag in tags:
            if len(tag) > TAG_MAX_LENGTH:
                raise ValidationError(gettext("A tag has at most %(max)d characters.") % {"max": TAG_MAX_LENGTH})
        return tags


class RetrievalTestForm(forms.Form):
    question = forms.CharField(
        label=_("Question"), widget=forms.Textarea(attrs={"rows": 2, "cols": 80}), max_length=2000
    )
    game = forms.ModelChoiceField(label=_("Game"), queryset=Game.objects.order_by("slug"), to_field_name="slug")
    category = forms.CharField(label=_("Category"), required=False, max_length=CATEGORY_MAX_LENGTH)
    tags = TagsField(label=_("Tags"), required=False, help_text=_("comma-separated; a chunk matches with any of them"))
    k = forms.IntegerField(label=_("Chunks (k)"), required=False, min_value=1, max_value=search.MAX_K,
                           initial=settings.RETRIEVAL_TOP_K)  # fmt: skip


# The upload (files or a zip with a manifest) and its batches, and the names the entity index reads
# (entities, glossary terms), have their own modules.
from . import entity_admin, upload_admin  # noqa: E402, F401
