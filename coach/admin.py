"""The coach in the admin (the operations console): question logs, the down-vote queue, the dashboard."""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Q
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from . import charts
from .models import DailyStat, Feedback, FeedbackReview, QuestionLog
from .selectors import content_gaps, content_gaps_by_game
from .services.feedback_review import feedback_answer_evict, feedback_review_record
from .stats import day_start, service_timezone, stats_range, stats_summary

# --- list filters -----------------------------------------------------------------------------------
# Django's plain field filters list the distinct values of the whole table: a scan of every log row
# on each page view. These read the few distinct values from the DailyStat rollup instead, plus
# today's logs (by the created_at index) and the values the configuration already knows.


def _known_games() -> set[str]:
    from knowledge.models import Game

    return set(Game.objects.values_list("slug", flat=True))


def _known_plans() -> set[str]:
    from billing import plans

    return set(plans.PLAN_CALL_LIMITS)


def _known_models() -> set[str]:
    from billing import plans

    return {name for name, price in plans.MODEL_PRICES.items() if price[2] is not None}


class _RollupValuesFilter(admin.SimpleListFilter):
    field = ""

    def known(self) -> set[str]:
        return set()

    def lookups(self, request, model_admin):
        today = day_start(timezone.localdate(timezone=service_timezone()))
        values = (
            set(DailyStat.objects.order_by().values_list(self.field, flat=True).distinct())
            | set(QuestionLog.objects.filter(created_at__gte=today).values_list(self.field, flat=True).distinct())
            | self.known()
        )
        if self.value() is not None:
            values.add(self.value())  # a link to a value of an older day, not listed, still filters
        return [(value, value or gettext("(none)")) for value in sorted(values)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: self.value()})


class GameFilter(_RollupValuesFilter):
    title, parameter_name, field = _("game"), "game", "game"

    def known(self):
        return _known_games()


class PlanFilter(_RollupValuesFilter):
    title, parameter_name, field = _("plan"), "plan", "plan"

    def known(self):
        return _known_plans()


class ModelFilter(_RollupValuesFilter):
    title, parameter_name, field = _("model"), "model", "model"

    def known(self):
        return _known_models()


class ErrorFilter(admin.SimpleListFilter):
    title, parameter_name = _("error"), "error"

    def lookups(self, request, model_admin):
        codes = DailyStat.objects.exclude(error_code="").order_by().values_list("error_code", flat=True).distinct()
        return [("any", gettext("any error")), ("none", gettext("no error")), *((code, code) for code in sorted(codes))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "any":
            return queryset.exclude(error_code="")
        if value == "none":
            return queryset.filter(error_code="")
        return queryset.filter(error_code=value)


# --- shared rendering -------------------------------------------------------------------------------


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


def _chunks_by_id(logs: list[QuestionLog]) -> dict[int, object]:
    from knowledge.models import Chunk

    ids = {source.get("chunk_id") for log in logs for source in log.sources or [] if isinstance(source, dict)}
    ids = {chunk_id for chunk_id in ids if isinstance(chunk_id, int)}
    return Chunk.objects.in_bulk(ids) if ids else {}


def _source_item(number: int, source: dict, chunk) -> str:
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


def answer_panel(log: QuestionLog, chunks: dict | None = None) -> str:
    """Question, answer and the sources (with the text of each chunk used) side by side."""
    chunks = _chunks_by_id([log]) if chunks is None else chunks
    sources = [source for source in log.sources or [] if isinstance(source, dict)]
    items = (
        mark_safe(  # noqa: S308 - each item was built by format_html
            "".join(_source_item(n, source, chunks.get(source.get("chunk_id"))) for n, source in enumerate(sources, 1))
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


# --- question logs ----------------------------------------------------------------------------------


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


# --- the dashboard ----------------------------------------------------------------------------------


class DashboardForm(forms.Form):
    to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    # Free text with suggestions: a game may have logs before it has a Game row or a finished day.
    game = forms.SlugField(
        label=_("Game"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"list": "ops-games", "placeholder": _("all games")}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so the field is added by name; shown first.
        self.fields = {
            "from": forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})),
            **self.fields,
        }
        self.known_games = sorted(
            _known_games() | set(DailyStat.objects.order_by().values_list("game", flat=True).distinct())
        )

    def clean(self):
        data = super().clean()
        try:
            data["range"] = stats_range(data.get("from"), data.get("to"))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _ms(value) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def dashboard_kpis(summary: dict) -> list[tuple[str, str, str]]:
    totals = summary["totals"]
    return [
        ("questions", gettext("Questions"), f"{totals['questions']:,}"),
        ("cost", gettext("LLM cost"), money(totals["cost_usd"])),
        ("saved", gettext("Saved by caches"), money(totals["saved_usd"])),
        ("exact", gettext("Exact cache hits"), _percent(totals["exact_hit_rate"])),
        ("semantic", gettext("Semantic cache hits"), _percent(totals["semantic_hit_rate"])),
        ("p50", gettext("Latency p50"), _ms(totals["latency_p50_ms"])),
        ("p95", gettext("Latency p95"), _ms(totals["latency_p95_ms"])),
        ("errors", gettext("Errors"), f"{totals['errors']:,}"),
        ("quota", gettext("Quota rejections"), f"{totals['quota_rejections']:,}"),
    ]


def dashboard_charts(summary: dict) -> list[tuple[str, object]]:
    days = summary["days"]
    labels = [day["date"][5:] for day in days]
    red, blue, orange, green = "#c0392b", charts.PALETTE[0], charts.PALETTE[1], charts.PALETTE[2]
    llm = [day["questions"] - day["errors"] - day["exact_hits"] - day["semantic_hits"] for day in days]
    models = [row["model"] for row in summary["cost_by_model"]]
    model_colors = charts.series_colors(models)
    plans = [row["plan"] for row in summary["quota_rejections_by_plan"]]
    plan_colors = charts.series_colors(plans)

    def count(value: float) -> str:
        return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"

    def ratio(value: float) -> str:
        return f"{value * 100:.0f}%"

    def usd(value: float) -> str:
        return money(Decimal(str(value)))

    def usd_axis(value: float) -> str:
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
        return f"${text}"

    return [
        (
            gettext("Questions per day"),
            charts.bar_chart(
                kind="questions",
                title=gettext("Questions per day, by how they were answered"),
                labels=labels,
                series=[
                    charts.Series(gettext("LLM"), llm, blue),
                    charts.Series(gettext("exact cache"), [d["exact_hits"] for d in days], green),
                    charts.Series(gettext("semantic cache"), [d["semantic_hits"] for d in days], orange),
                    charts.Series(gettext("error"), [d["errors"] for d in days], red),
                ],
                fmt=count,
                whole=True,
            ),
        ),
        (
            gettext("Cost per day by model"),
            charts.bar_chart(
                kind="cost",
                title=gettext("LLM cost per day by model (USD)"),
                labels=labels,
                series=[
                    charts.Series(m, [float(d["cost_by_model"].get(m, 0)) for d in days], model_colors[m])
                    for m in models
                ],
                fmt=usd,
                axis_fmt=usd_axis,
            ),
        ),
        (
            gettext("Cache hit rate"),
            charts.line_chart(
                kind="cache-rate",
                title=gettext("Share of answers served from each cache"),
                labels=labels,
                series=[
                    charts.Series(gettext("exact"), [d["exact_hit_rate"] for d in days], green),
                    charts.Series(gettext("semantic"), [d["semantic_hit_rate"] for d in days], orange),
                ],
                fmt=ratio,
            ),
        ),
        (
            gettext("Money saved by caches per day"),
            charts.bar_chart(
                kind="saved",
                title=gettext("What cached answers would have cost (USD)"),
                labels=labels,
                series=[charts.Series(gettext("saved"), [float(d["saved_usd"]) for d in days], green)],
                fmt=usd,
                axis_fmt=usd_axis,
            ),
        ),
        (
            gettext("Latency p50 / p95"),
            charts.line_chart(
                kind="latency",
                title=gettext("Answer latency percentiles per day (ms)"),
                labels=labels,
                series=[
                    charts.Series("p50", [d["latency_p50_ms"] for d in days], blue),
                    charts.Series("p95", [d["latency_p95_ms"] for d in days], red),
                ],
                fmt=count,
                whole=True,
            ),
        ),
        (
            gettext("Top games"),
            charts.hbar_chart(
                kind="games",
                title=gettext("Questions per game"),
                items=[(row["game"], row["questions"]) for row in summary["top_games"]],
                fmt=count,
            ),
        ),
        (
            gettext("Quota exhaustion per plan"),
            charts.bar_chart(
                kind="quota",
                title=gettext("Asks refused because the plan's calls were used up, per day"),
                labels=labels,
                series=[
                    charts.Series(p, [d["quota_rejections"].get(p, 0) for d in days], plan_colors[p]) for p in plans
                ],
                fmt=count,
                whole=True,
            ),
        ),
        (
            gettext("Errors per day"),
            charts.bar_chart(
                kind="errors",
                title=gettext("Asks that ended in an error, per day"),
                labels=labels,
                series=[charts.Series(gettext("errors"), [d["errors"] for d in days], red)],
                fmt=count,
                whole=True,
            ),
        ),
    ]


# --- feedback: the down-vote queue ------------------------------------------------------------------


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
