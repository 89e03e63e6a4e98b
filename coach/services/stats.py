"""Writes behind the operations statistics: the DailyStat rollup of finished days and quota rejection counts."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from coach.models import DailyStat, DailyStatRollup, QuotaRejectionDay
from coach.stats import KEY_FIELDS, cells_from_logs, day_start, first_log_day, service_timezone

logger = logging.getLogger(__name__)

# A log row is written when its ask ends; a day is final once this long has passed after it ended.
ROLLUP_GRACE = timedelta(minutes=5)
# Days rolled up per run, oldest first: a first run over a long history catches up in batches.
ROLLUP_MAX_DAYS = 31


def daily_stat_rollup(*, day: date, now: datetime | None = None) -> int:
    """(Re)compute the DailyStat rows of one day from QuestionLog; returns how many rows it has. Idempotent."""
    now = now or timezone.now()
    start, end = day_start(day), day_start(day + timedelta(days=1))
    with transaction.atomic():
        # One rollup of a day at a time: the second waits, then recomputes the same rows.
        DailyStatRollup.objects.get_or_create(day=day, defaults={"computed_at": now})
        DailyStatRollup.objects.select_for_update().get(day=day)
        cells = cells_from_logs(start=start, end=end)
        DailyStat.objects.filter(day=day).delete()
        DailyStat.objects.bulk_create(
            DailyStat(
                day=key[0],
                **dict(zip(KEY_FIELDS, key[1:], strict=True)),
                questions=cell.questions,
                prompt_tokens=cell.prompt_tokens,
                completion_tokens=cell.completion_tokens,
                cached_tokens=cell.cached_tokens,
                reasoning_tokens=cell.reasoning_tokens,
                cost_usd=cell.cost_usd,
                saved_usd=cell.saved_usd,
                latency_ms_sum=cell.latency_ms_sum,
                latency_histogram=cell.latency_histogram,
            )
            for key, cell in cells.items()
        )
        DailyStatRollup.objects.filter(day=day).update(computed_at=now, final=now >= end + ROLLUP_GRACE)
    return len(cells)


def daily_stats_refresh(*, now: datetime | None = None, max_days: int = ROLLUP_MAX_DAYS) -> list[date]:
    """Roll up the finished days that are not final yet (oldest first, at most max_days); returns them."""
    now = now or timezone.now()
    first = first_log_day()
    if first is None:
        return []
    last = timezone.localtime(now - ROLLUP_GRACE, service_timezone()).date() - timedelta(days=1)
    if last < first:
        return []
    final = set(DailyStatRollup.objects.filter(day__gte=first, final=True).values_list("day", flat=True))
    due = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    due = [day for day in due if day not in final][:max_days]
    for day in due:
        rows = daily_stat_rollup(day=day, now=now)
        logger.info("daily stats rolled up", extra={"day": day.isoformat(), "rows": rows})
    return due


def quota_rejection_count(*, plan: str, at: datetime | None = None) -> None:
    """Count one ask refused with quota_exceeded for `plan` on the service-time-zone day of `at`."""
    day = timezone.localtime(at or timezone.now(), service_timezone()).date()
    # One statement, so concurrent rejections never lose a count.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {QuotaRejectionDay._meta.db_table} (day, plan, rejections) VALUES (%s, %s, 1) "  # noqa: S608
            "ON CONFLICT (day, plan) DO UPDATE SET rejections = "
            f"{QuotaRejectionDay._meta.db_table}.rejections + 1",
            [day, plan[:40] or "unknown"],
        )
