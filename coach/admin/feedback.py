"""Feedback in the admin: the queue of down-votes to review, evicting an answer or dismissing the report."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from ..models import Feedback, FeedbackReview
from ..services.feedback_review import feedback_answer_evict, feedback_review_record
from .display import answer_panel


class QueueFilter(admin.SimpleListFilter):
    """Opens on the queue: down-votes no one has reviewed since they were given."""

    title, parameter_name = _("queue"), "queue"
    OPEN = Q(rating=Feedback.Rating.DOWN) & (Q(review__isnull=True) | Q(review__reviewed_at__lt=F("updated_at")))

    def lookups(self, request, model_admin):
        return [
            ("open", gettext("down-votes to review")),
            ("down", gettext("all down-votes")),
            ("up", gettext("up-votes")),
            ("all", gettext("all feedback")),
        ]

    def value(self):
        return super().value() or "open"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        return {
            "open": queryset.filter(self.OPEN),
            "down": queryset.filter(rating=Feedback.Rating.DOWN),
            "up": queryset.filter(rating=Feedback.Rating.UP),
        }.get(self.value(), queryset)


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("updated_at", "rating", "question", "answer_excerpt", "comment", "game", "status")
    list_filter = (QueueFilter,)
    list_select_related = ("answer", "review")
    search_fields = ("comment", "answer__question", "answer__answer")
    ordering = ("-updated_at",)
    actions = ("evict_answers", "dismiss")
    readonly_fields = ("side_by_side", "rating", "comment", "user", "created_at", "updated_at", "status", "log")
    fields = ("side_by_side", ("rating", "status"), "comment", ("user", "created_at", "updated_at"), "log")

    class Media:
        css = {"all": ("coach/admin.css",)}

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("question"))
    def question(self, feedback):
        text = feedback.answer.question
        return text if len(text) <= 60 else text[:59] + "…"

    @admin.display(description=_("answer"))
    def answer_excerpt(self, feedback):
        text = feedback.answer.answer
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description=_("game"))
    def game(self, feedback):
        return feedback.answer.game

    @admin.display(description=_("review"))
    def status(self, feedback):
        try:
            review = feedback.review
        except FeedbackReview.DoesNotExist:
            return pgettext("review state", "open") if feedback.rating == Feedback.Rating.DOWN else "-"
        if review.reviewed_at < feedback.updated_at:
            return gettext("open (rated again)")
        return f"{review.get_action_display()} {review.reviewed_at:%Y-%m-%d %H:%M}"

    @admin.display(description=_("question log"))
    def log(self, feedback):
        url = reverse("admin:coach_questionlog_change", args=[feedback.answer_id])
        return format_html('<a href="{}">{}</a>', url, feedback.answer_id)

    @admin.display(description=_("question, answer and the chunks it used"))
    def side_by_side(self, feedback):
        return answer_panel(feedback.answer)

    @admin.action(description=_("Evict the selected answers from the semantic cache"), permissions=["change"])
    def evict_answers(self, request, queryset):
        evicted, entries, failed = 0, 0, 0
        for feedback in queryset.select_related("answer"):
            dropped = feedback_answer_evict(feedback=feedback, reviewed_by=request.user)
            if dropped is None:
                failed += 1
            else:
                evicted, entries = evicted + 1, entries + dropped
        if evicted:
            self.message_user(request, gettext("Evicted %(evicted)d answer(s): %(entries)d semantic cache entries "
                                               "dropped.") % {"evicted": evicted, "entries": entries})  # fmt: skip
        if failed:
            self.message_user(
                request,
                gettext("The semantic cache is unavailable; %(failed)d answer(s) stay in the queue. Try again shortly.")
                % {"failed": failed},
                messages.ERROR,
            )

    @admin.action(description=_("Dismiss: the answer is fine"), permissions=["change"])
    def dismiss(self, request, queryset):
        count = 0
        for feedback in queryset:
            feedback_review_record(feedback=feedback, action=FeedbackReview.Action.DISMISSED, reviewed_by=request.user)
            count += 1
        self.message_user(request, ngettext("Dismissed %(count)d report.", "Dismissed %(count)d reports.", count) % {
            "count": count
        })  # fmt: skip
