"""Quota periods: calendar weeks from Monday 00:00 and calendar months, in the service's time zone."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def period_bounds(period: str, at: datetime | None = None) -> tuple[date, datetime]:
    """(first local day of the period containing `at`, the aware moment the next period starts)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = (at or timezone.now()).astimezone(zone).date()
    if period == "week":
        start = today - timedelta(days=today.weekday())
        following = start + timedelta(days=7)
    elif period == "month":
        start = today.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}")
    return start, datetime.combine(following, time.min, tzinfo=zone)
