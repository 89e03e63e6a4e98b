"""Operations statistics of the coach: the figures the admin dashboard and GET /api/admin/stats show.

Days are days of the service time zone (settings.TIME_ZONE): a question asked at 23:30 UTC counts
for the next day in Asia/Seoul. A day that is over is read from its DailyStat rows once
coach.services.stats.daily_stat_rollup has made them final; any other day (today, or one the
rollup has not reached yet) is aggregated from QuestionLog on the fly, so the figures are always
complete and the same either way. Latency percentiles come from histograms with buckets at most 5%
(or 10 ms) wide, so they merge across days and groups; every other figure is exact.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Func, IntegerField, Q, Sum, Value
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from .models import DailyStat, DailyStatRollup, QuestionLog, QuotaRejectionDay


def _latency_buckets() -> tuple[int, ...]:
    bounds = list(range(0, 100, 10))
    value = 100.0
    while value < 600_000:
        bounds.append(round(value))
        value *= 1.05
    return tuple(bounds)


# Lower bounds of the latency buckets in ms: 10 ms wide up to 100 ms, then 5% wider each.
LATENCY_BUCKETS_MS = _latency_buckets()
KEY_FIELDS = ("game", "plan", "model", "cache", "error_code")
# Cell's fields in order, as DailyStat stores them.
_SUM_FIELDS = (
    "questions", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost_usd", "saved_usd",
    "latency_ms_sum",
)  # fmt: skip
MONEY = Decimal("0.00000001")
TOP_GAMES = 10
# A longer range would still be correct, only slower; a year covers what staff look at.
STATS_MAX_DAYS = 366
STATS_DEFAULT_DAYS = 30


@dataclass
class Cell:
    """Sums over the asks of one day and one (game, plan, model, cache, error_code)."""

    questions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    saved_usd: Decimal = Decimal(0)
    latency_ms_sum: int = 0
    latency_histogram: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))

    def add(self, other: Cell, *, histogram: bool = True) -> None:
        self.questions += other.questions
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_usd += other.cost_usd
        self.saved_usd += other.saved_usd
        self.latency_ms_sum += other.latency_ms_sum
        if histogram:
            self.latency_histogram = list(map(operator.add, self.latency_histogram, other.latency_histogram))


def service_timezone():
    return timezone.get_default_timezone()


def day_start(day: date) -> datetime:
    """The first instant of `day` in the service time zone."""
    return datetime.combine(day, time.min, tzinfo=service_timezone())


def latency_percentile(histogram: list[int], q: float) -> int | None:
    """The q-th (0..1) nearest-rank percentile, placed inside its bucket; None without data."""
    total = sum(histogram)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in enumerate(histogram):
        if seen + count >= rank:
            low = LATENCY_BUCKETS_MS[index]
            high = LATENCY_BUCKETS_MS[index + 1] if index + 1 < len(LATENCY_BUCKETS_MS) else low
            return round(low + (high - low) * (rank - seen - 0.5) / count)
        seen += count
    return None  # unreachable: rank <= total


def _bucket_expression() -> Func:
    # width_bucket(x, thresholds) numbers buckets from 1 by their lower bounds, as LATENCY_BUCKETS_MS.
    return Func(F("latency_ms"), Value(list(LATENCY_BUCKETS_MS)), function="width_bucket", output_field=IntegerField())


def cells_from_logs(*, start: datetime, end: datetime, game: str | None = None) -> dict[tuple, Cell]:
    """QuestionLog rows created in [start, end) summed into cells keyed (day, *KEY_FIELDS)."""
    return _cells_from_logs(Q(created_at__gte=start, created_at__lt=end), game=game)


def _cells_from_logs(where: Q, *, game: str | None) -> dict[tuple, Cell]:
    logs = QuestionLog.objects.filter(where)
    if game:
        logs = logs.filter(game=game)
    rows = (
        logs.annotate(day=TruncDate("created_at", tzinfo=service_timezone()), bucket=_bucket_expression())
        .values("day", *KEY_FIELDS, "bucket")
        .annotate(
            n=Count("id"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cached=Sum("cached_tokens"),
            reasoning=Sum("reasoning_tokens"),
            cost=Sum("cost_usd"),
            saved=Sum("saved_usd"),
            latency=Sum("latency_ms"),
        )
        .order_by()
    )
    cells: dict[tuple, Cell] = defaultdict(Cell)
    for row in rows:
        cell = cells[(row["day"], *(row[name] for name in KEY_FIELDS))]
        cell.questions += row["n"]
        cell.prompt_tokens += row["prompt"]
        cell.completion_tokens += row["completion"]
        cell.cached_tokens += row["cached"]
        cell.reasoning_tokens += row["reasoning"]
        cell.cost_usd += row["cost"]
        cell.saved_usd += row["saved"]
        cell.latency_ms_sum += row["latency"]
        cell.latency_histogram[row["bucket"] - 1] += row["n"]
    return dict(cells)


def _cells_from_rollup(days: list[date], *, game: str | None) -> dict[tuple, Cell]:
    stats = DailyStat.objects.filter(day__in=days)
    if game:
        stats = stats.filter(game=game)
    width = len(LATENCY_BUCKETS_MS)
    cells = {}
    for row in stats.values_list("day", *KEY_FIELDS, *_SUM_FIELDS, "latency_histogram"):
        histogram = row[-1] if len(row[-1]) == width else (list(row[-1]) + [0] * width)[:width]
        cell = cells[row[: 1 + len(KEY_FIELDS)]] = Cell(*row[1 + len(KEY_FIELDS) : -1])
        cell.latency_histogram = histogram
    return cells


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def stats_range(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The range to show: to defaults to today, from to 30 days before it; ValueError when it is not a range."""
    date_to = date_to or timezone.localdate(timezone=service_timezone())
    date_from = date_from or date_to - timedelta(days=STATS_DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise ValueError(gettext("`from` must not be after `to`."))
    if (date_to - date_from).days + 1 > STATS_MAX_DAYS:
        raise ValueError(gettext("The range may span at most %(days)d days.") % {"days": STATS_MAX_DAYS})
    return date_from, date_to


def first_log_day() -> date | None:
    first = QuestionLog.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return timezone.localtime(first, service_timezone()).date() if first else None


def stats_cells(*, date_from: date, date_to: date, game: str | None = None) -> dict[tuple, Cell]:
    """Cells for every day in [date_from, date_to]: final days from the rollup, the rest from the logs."""
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    final = set(DailyStatRollup.objects.filter(day__in=days, final=True).values_list("day", flat=True))
    first = first_log_day()
    # Days before the first log row that were never rolled up have nothing to read.
    live = [day for day in days if day not in final and first is not None and day >= first]
    cells = _cells_from_rollup(sorted(final), game=game)
    if live:
        where = Q()
        for first_day, last_day in _runs(live):
            where |= Q(created_at__gte=day_start(first_day), created_at__lt=day_start(last_day + timedelta(days=1)))
        cells.update(_cells_from_logs(where, game=game))
    return cells


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class _Day:
    def __init__(self) -> None:
        self.all = Cell()
        self.answered = Cell()  # without errors: latency and cache rates are about answers
        self.exact_hits = 0
        self.semantic_hits = 0
        self.errors = 0
        self.cost_by_model: dict[str, Decimal] = defaultdict(Decimal)
        self.quota_rejections: dict[str, int] = defaultdict(int)


def stats_summary(*, date_from: date, date_to: date, game: str | None = None) -> dict:
    """Every figure of the dashboard for days date_from..date_to (service time zone), optionally one game.

    Quota rejections are never per game: the ask is refused before its body is read.
    """
    cells = stats_cells(date_from=date_from, date_to=date_to, game=game)
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    per_day = {day: _Day() for day in days}
    games: dict[str, Cell] = defaultdict(Cell)
    models: dict[str, Cell] = defaultdict(Cell)
    plans: dict[str, Cell] = defaultdict(Cell)
    errors: dict[str, int] = defaultdict(int)
    for (day, game_slug, plan, model, cache, error_code), cell in cells.items():
        bucket = per_day[day]
        # Percentiles are of answered asks only: the other groups need no histogram.
        bucket.all.add(cell, histogram=False)
        games[game_slug].add(cell, histogram=False)
        plans[plan].add(cell, histogram=False)
        if model:
            models[model].add(cell, histogram=False)
            bucket.cost_by_model[model] += cell.cost_usd
        if error_code:
            bucket.errors += cell.questions
            errors[error_code] += cell.questions
            continue
        bucket.answered.add(cell)
        if cache == QuestionLog.Cache.EXACT:
            bucket.exact_hits += cell.questions
        elif cache == QuestionLog.Cache.SEMANTIC:
            bucket.semantic_hits += cell.questions

    quota_by_plan: dict[str, int] = defaultdict(int)
    for day, plan, rejections in QuotaRejectionDay.objects.filter(day__gte=date_from, day__lte=date_to).values_list(
        "day", "plan", "rejections"
    ):
        per_day[day].quota_rejections[plan] += rejections
        quota_by_plan[plan] += rejections

    total, answered = Cell(), Cell()
    exact_hits = semantic_hits = error_count = 0
    day_rows = []
    for day in days:
        bucket = per_day[day]
        total.add(bucket.all, histogram=False)
        answered.add(bucket.answered)
        exact_hits += bucket.exact_hits
        semantic_hits += bucket.semantic_hits
        error_count += bucket.errors
        day_rows.append(
            {
                "date": day.isoformat(),
                "questions": bucket.all.questions,
                "errors": bucket.errors,
                "cost_usd": _money(bucket.all.cost_usd),
                "saved_usd": _money(bucket.all.saved_usd),
                "exact_hits": bucket.exact_hits,
                "semantic_hits": bucket.semantic_hits,
                "exact_hit_rate": _rate(bucket.exact_hits, bucket.answered.questions),
                "semantic_hit_rate": _rate(bucket.semantic_hits, bucket.answered.questions),
                "latency_p50_ms": latency_percentile(bucket.answered.latency_histogram, 0.50),
                "latency_p95_ms": latency_percentile(bucket.answered.latency_histogram, 0.95),
                "cost_by_model": {name: _money(cost) for name, cost in sorted(bucket.cost_by_model.items())},
                "quota_rejections": dict(sorted(bucket.quota_rejections.items())),
            }
        )

    def group_rows(groups: dict[str, Cell], name: str) -> list[dict]:
        ordered = sorted(groups.items(), key=lambda item: (-item[1].questions, item[0]))
        return [{name: key, "questions": cell.questions, "cost_usd": _money(cell.cost_usd)} for key, cell in ordered]

    return {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "game": game,
        "time_zone": str(service_timezone()),
        "totals": {
            "questions": total.questions,
            "answered": answered.questions,
            "errors": error_count,
            "cost_usd": _money(total.cost_usd),
            "saved_usd": _money(total.saved_usd),
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "cached_tokens": total.cached_tokens,
            "reasoning_tokens": total.reasoning_tokens,
            "exact_hits": exact_hits,
            "semantic_hits": semantic_hits,
            "exact_hit_rate": _rate(exact_hits, answered.questions),
            "semantic_hit_rate": _rate(semantic_hits, answered.questions),
            "latency_p50_ms": latency_percentile(answered.latency_histogram, 0.50),
            "latency_p95_ms": latency_percentile(answered.latency_histogram, 0.95),
            "quota_rejections": sum(quota_by_plan.values()),
        },
        "days": day_rows,
        "cost_by_model": [
            {"model": row["model"], "questions": row["questions"], "cost_usd": row["cost_usd"]}
            for row in group_rows(models, "model")
        ],
        "top_games": group_rows(games, "game")[:TOP_GAMES],
        "plans": group_rows(plans, "plan"),
        "errors_by_code": [
            {"code": code, "count": count}
            for code, count in sorted(errors.items(), key=lambda item: (-item[1], item[0]))
        ],
        "quota_rejections_by_plan": [
            {"plan": plan, "count": count}
            for plan, count in sorted(quota_by_plan.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
