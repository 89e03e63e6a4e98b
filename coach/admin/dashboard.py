"""The operations dashboard: its filter form, the KPI tiles and the charts, from stats_summary's figures."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import charts
from ..models import DailyStat
from ..stats import stats_range
from .display import money
from .filters import _known_games


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
