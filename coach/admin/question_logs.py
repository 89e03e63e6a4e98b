"""Question logs in the admin, with the operations dashboard and the content gaps pages on its URLs."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import Feedback, QuestionLog
from ..selectors import content_gaps, content_gaps_by_game
from ..stats import stats_range, stats_summary
from .dashboard import DashboardForm, dashboard_charts, dashboard_kpis
from .display import answer_panel, money
from .filters import ErrorFilter, GameFilter, ModelFilter, PlanFilter


class EstimatedCountPaginator(Paginator):
    """Counts a filtered list exactly; the whole table (a million rows) by PostgreSQL's own estimate.

    COUNT(*) over every log row costs more than the rest of the page together, for a number
    nobody reads to the last digit.
    """

    ESTIMATE_ABOVE = 100_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [query.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > self.ESTIMATE_ABOVE:
                return row[0]
        return super().count


@admin.register(QuestionLog)
class QuestionLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "question_short", "game", "plan", "model", "cache", "cost", "latency", "error_code")
    list_filter = (
        ("created_at", admin.DateFieldListFilter), GameFilter, PlanFilter, ModelFilter, "cache", "grounded",
        ErrorFilter,
    )  # fmt: skip
    search_fields = ("question", "answer", "user__username", "user__email")
    search_help_text = _("Words of the question or answer, or the user's name or email.")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    # Counting a million rows for "N total" on every page view is not worth it.
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    readonly_fields = (
        "side_by_side", "id", "user", "conversation", "game", "category", "tags", "plan", "model", "cache",
        "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost", "saved", "latency",
        "stage_timings", "error_code", "error", "created_at", "rating", "grounded",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("side_by_side",)}),
        (
            _("Usage"),
            {
                "fields": (
                    ("game", "category", "tags", "plan", "grounded"),
                    ("model", "cache", "cost", "saved"),
                    ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"),
                    ("latency", "stage_timings"),
                )
            },
        ),
        (_("Who and when"), {"fields": (("user", "conversation"), ("created_at", "id"), "rating")}),
        (_("Error"), {"fields": ("error_code", "error")}),
    )

    class Media:
        css = {"all": ("coach/admin.css",)}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log is a record of what happened

    @admin.display(description=_("question"), ordering="question")
    def question_short(self, log):
        return log.question if len(log.question) <= 70 else log.question[:69] + "…"

    @admin.display(description=_("cost"), ordering="cost_usd")
    def cost(self, log):
        return money(log.cost_usd)

    @admin.display(description=_("saved by cache"))
    def saved(self, log):
        return money(log.saved_usd)

    @admin.display(description=_("latency"), ordering="latency_ms")
    def latency(self, log):
        return f"{log.latency_ms:,} ms"

    @admin.display(description=_("stage timings (ms)"))
    def stage_timings(self, log):
        return json.dumps(log.stage_ms, ensure_ascii=False) if log.stage_ms else "-"

    @admin.display(description=_("rating"))
    def rating(self, log):
        feedback = Feedback.objects.filter(answer=log).first()
        return f"{feedback.rating}: {feedback.comment}" if feedback else "-"

    @admin.display(description=_("question, answer and sources"))
    def side_by_side(self, log):
        return answer_panel(log)

    def get_urls(self):
        dashboard = path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="coach_dashboard")
        gaps = path("content-gaps/", self.admin_site.admin_view(self.content_gaps_view), name="coach_content_gaps")
        return [dashboard, gaps, *super().get_urls()]

    def _page_filter(self, request) -> tuple[DashboardForm, object, object, str | None]:
        """The dashboard's and the content gaps' filter: the form, and the date range and game it picks
        (the last 30 days when it was not valid, with a message saying so)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        date_from, date_to = stats_range(None, None)
        form = DashboardForm(request.GET or None, initial={"from": date_from, "to": date_to})
        game = None
        if form.is_bound and form.is_valid():
            date_from, date_to, game = form.cleaned_data["range"] + (form.cleaned_data.get("game") or None,)
        elif form.is_bound:
            messages.error(request, gettext("The filter was not valid; showing the last 30 days."))
        return form, date_from, date_to, game

    def content_gaps_view(self, request):
        """The questions the guides did not cover, by game and count, for the date range and game picked."""
        form, date_from, date_to, game = self._page_filter(request)
        gaps = content_gaps(date_from=date_from, date_to=date_to, game=game)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Content gaps"),
            "opts": self.model._meta,
            "form": form,
            "gaps": gaps,
            "games": content_gaps_by_game(gaps),
            "logs_url": reverse("admin:coach_questionlog_changelist"),
        }
        return TemplateResponse(request, "admin/coach/content_gaps.html", context)

    def dashboard_view(self, request):
        form, date_from, date_to, game = self._page_filter(request)
        summary = stats_summary(date_from=date_from, date_to=date_to, game=game)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Operations dashboard"),
            "opts": self.model._meta,
            "form": form,
            "summary": summary,
            "kpis": dashboard_kpis(summary),
            "charts": dashboard_charts(summary),
            "logs_url": reverse("admin:coach_questionlog_changelist"),
        }
        return TemplateResponse(request, "admin/coach/dashboard.html", context)
