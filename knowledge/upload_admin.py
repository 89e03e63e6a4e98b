"""The admin's upload: a form for files or a zip with a manifest, and each batch's page with its files' progress."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import uploads
from .models import CATEGORY_MAX_LENGTH, Document, Game, UploadBatch, UploadFile

UPLOAD_ACCEPT = ",".join(sorted(uploads.SUPPORTED_SUFFIXES | {".zip"}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": UPLOAD_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class UploadForm(forms.Form):
    # Django's form metaclass takes declared fields out of the class, so this does not shadow
    # BaseForm.files (the request's uploads) as django-stubs believe.
    files = MultipleFileField(  # type: ignore[assignment]
        label=_("Files"),
        help_text=_(
            "One or many .md .txt .html .srt .vtt .jsonl files, or a .zip of them with a manifest.json or "
            "manifest.yaml at its top naming each file's game, category, tags, language, title and source_url."
        ),
    )
    game = forms.ModelChoiceField(
        queryset=Game.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        label=_("Game"),
        help_text=_("For every file the manifest does not place."),
    )
    category = forms.CharField(label=_("Category"), required=False, max_length=CATEGORY_MAX_LENGTH)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("comma-separated"))
    document_status = forms.ChoiceField(
        choices=Document.Status.choices,
        initial=Document.Status.PUBLISHED,
        label=_("New documents are"),
        help_text=_("Existing documents keep their status."),
    )

    def clean_tags(self):
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def clean(self):
        cleaned = super().clean()
        uploaded = cleaned.get("files") or []
        incoming = uploads.Incoming(files=[])
        archives = []
        try:
            for upload in uploaded:
                if not upload.name.lower().endswith(".zip"):
                    incoming.files.extend(uploads.incoming_files([upload]))
                    continue
                archives.append(upload.name)
                unpacked = uploads.zip_unpack(upload)
                if unpacked.manifest is not None:
                    if incoming.manifest is not None:
                        raise uploads.UploadRefused(gettext("Only one zip of an upload may hold a manifest."))
                    incoming.manifest = unpacked.manifest
                    incoming.manifest_name, incoming.manifest_text = unpacked.manifest_name, unpacked.manifest_text
                incoming.files.extend(unpacked.files)
        except uploads.UploadRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        if uploaded and not incoming.files:
            raise forms.ValidationError(gettext("The zip holds no files."))
        listed = incoming.manifest.files if incoming.manifest else {}
        unplaced = [
            file.name
            for file in incoming.files
            if not file.error
            and not file.name.lower().endswith(".jsonl")  # its lines may name their own game and category
            and not (
                (cleaned.get("game") or getattr(listed.get(file.name), "game", None))
                and (cleaned.get("category") or getattr(listed.get(file.name), "category", None))
            )
        ]
        if unplaced:
            shown = ", ".join(unplaced[:5]) + (" …" if len(unplaced) > 5 else "")
            raise forms.ValidationError(
                gettext("Choose a game and a category for %(files)s (or name them in the zip's manifest).")
                % {"files": shown}
            )
        cleaned["incoming"] = incoming
        cleaned["archive_name"] = ", ".join(archives)[:255]
        return cleaned


class UploadFileInline(admin.TabularInline):
    model = UploadFile
    fields = ("name", "status", "outcome", "document_links", "error_text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data").prefetch_related("documents")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("documents"))
    def document_links(self, upload):
        from .admin import index_progress_text

        return format_html_join(
            "",
            '<div class="upload-document"><a href="{}">{}</a> <span class="indexing">{}</span></div>',
            (
                (reverse("admin:knowledge_document_change", args=[d.pk]), d.title, index_progress_text(d))
                for d in upload.documents.all()
            ),
        )

    @admin.display(description=_("error"))
    def error_text(self, upload):
        if not upload.error:
            return ""
        return format_html('<div class="upload-error" style="white-space: pre-wrap">{}</div>', upload.error)


@admin.register(UploadBatch)
class UploadBatchAdmin(admin.ModelAdmin):
    list_display = ("__str__", "state", "file_counts", "game", "category", "created_by", "created_at")
    list_filter = ("state", "game")
    inlines = [UploadFileInline]
    fields = ("state", "file_counts", "game", "category", "tags", "document_status", "archive_name")
    readonly_fields = (*fields, "created_by", "created_at", "finished_at")
    change_form_template = "admin/knowledge/uploadbatch/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("game", "created_by")
            .annotate(
                files_total=Count("files"),
                files_done=Count("files", filter=Q(files__status=UploadFile.Status.DONE)),
                files_failed=Count("files", filter=Q(files__status=UploadFile.Status.FAILED)),
            )
        )

    @admin.display(description=_("files"))
    def file_counts(self, batch):
        values = {"done": batch.files_done, "total": batch.files_total, "failed": batch.files_failed}
        if batch.files_failed:
            return gettext("%(done)d of %(total)d ingested, %(failed)d failed") % values
        return gettext("%(done)d of %(total)d ingested") % values

    # Uploading writes documents: it needs the document permissions as well as the batch's.
    def has_add_permission(self, request):
        return super().has_add_permission(request) and request.user.has_perms(
            ["knowledge.add_document", "knowledge.change_document"]
        )

    def has_change_permission(self, request, obj=None):
        return False  # a batch is a record of what happened; its page is read-only

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            batch = uploads.upload_batch_create(
                incoming=data["incoming"],
                game=data["game"],
                category=data["category"],
                tags=data["tags"],
                document_status=data["document_status"],
                archive_name=data["archive_name"],
                created_by=request.user,
            )
            refused = sum(1 for file in data["incoming"].files if file.error)
            count = len(data["incoming"].files)
            message = ngettext(
                "%(count)d file received; it is ingested in the background.",
                "%(count)d files received; they are ingested in the background.",
                count,
            ) % {"count": count}
            if refused:
                message += " " + gettext("%(count)d refused (see why below).") % {"count": refused}
            self.message_user(request, message)
            return HttpResponseRedirect(reverse("admin:knowledge_uploadbatch_change", args=[batch.pk]))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": gettext("Upload documents"),
            "form": form,
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "limits": {
                "file_kb": settings.UPLOAD_MAX_FILE_BYTES // 1024,
                "request_kb": settings.MAX_ADMIN_BODY_BYTES // 1024,
                "zip_members": settings.UPLOAD_MAX_ZIP_MEMBERS,
            },
            "manifest_example": MANIFEST_EXAMPLE,
        }
        return TemplateResponse(request, "admin/knowledge/uploadbatch/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        in_progress = batch is not None and (
            batch.state != UploadBatch.State.DONE
            or Document.objects.filter(
                pk__in=UploadFile.objects.filter(batch=batch).values("documents"),
                index_status__in=[Document.IndexStatus.PENDING, Document.IndexStatus.INDEXING],
            ).exists()
        )
        extra_context = {**(extra_context or {}), "upload_in_progress": in_progress}
        return super().change_view(request, object_id, form_url, extra_context)


MANIFEST_EXAMPLE = """files:
  elden-ring/malenia.md: {game: elden-ring, category: boss, tags: [malenia], language: ko}
  lol/thresh.srt:
    game: league-of-legends
    category: support
    title: 쓰레쉬 서폿 콤보
    source_url: https://youtu.be/example"""
