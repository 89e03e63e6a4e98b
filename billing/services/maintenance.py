"""Periodic billing work run by django-celery-beat, and the schedule itself (present after every migrate)."""

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing.errors import RevenueCatUnavailable
from billing.models import CallRecord, Subscription, UsageCounter, WebhookEvent
from billing.services.subscriptions import subscription_sync
from config.plans import FREE

logger = logging.getLogger(__name__)

# A pending event with no retry time was never tried: its queueing was lost (broker down). Give
# the worker this long to pick it up normally before the beat re-queues it.
_UNTRIED_GRACE = timedelta(minutes=2)
# An EXPIRATION delivery can be late or lost; a paid plan this far past its expiry gets re-read.
_LAPSED_AFTER = timedelta(hours=1)

# name -> (task, schedule). Crontabs run in the service's time zone. Created when missing; an
# existing entry is left as staff set it in the admin (disabled, rescheduled).
BEAT_SCHEDULE: dict[str, tuple[str, dict[str, Any]]] = {
    "billing: quota period rollover and cleanup": ("billing.tasks.quota_periods_rollover", {"crontab": "0 0 * * *"}),
    "billing: re-queue pending RevenueCat events": ("billing.tasks.webhook_events_requeue", {"every_seconds": 300}),
    "billing: re-read lapsed subscriptions": ("billing.tasks.subscriptions_refresh_lapsed", {"every_seconds": 3600}),
}


def beat_schedule_ensure() -> list[str]:
    """Create the billing beat entries that do not exist yet; returns the names created. Idempotent."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    for name, (task, when) in BEAT_SCHEDULE.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        if "crontab" in when:
            minute, hour, day_of_month, month_of_year, day_of_week = when["crontab"].split()
            schedule, _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                day_of_week=day_of_week, timezone=ZoneInfo(settings.TIME_ZONE),
            )  # fmt: skip
            PeriodicTask.objects.create(name=name, task=task, crontab=schedule)
        else:
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=when["every_seconds"], period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(name=name, task=task, interval=schedule)
        created.append(name)
    return created


def quota_periods_rollover(*, now: datetime | None = None) -> dict[str, Any]:
    """The period reset needs no job (a new period is a new counter row); this drops rows past retention.

    Idempotent, and a missed run catches up: it deletes by age, whatever ran before.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.BILLING_USAGE_RETENTION_DAYS)
    counters, _ = UsageCounter.objects.filter(period_start__lt=cutoff.date()).delete()
    records, _ = CallRecord.objects.filter(created_at__lt=cutoff).delete()
    return {"counters_deleted": counters, "call_records_deleted": records}


def webhook_events_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    due = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, received_at__lte=now - _UNTRIED_GRACE)
    )
    return list(due.order_by("received_at").values_list("pk", flat=True)[:limit])


def subscriptions_refresh_lapsed(*, now: datetime | None = None, limit: int = 200) -> int:
    """Re-read paid subscriptions well past their expiry, in case their EXPIRATION never arrived."""
    now = now or timezone.now()
    lapsed = (
        Subscription.objects.exclude(plan=FREE)
        .filter(expires_at__lt=now - _LAPSED_AFTER)
        .select_related("user")
        .order_by("expires_at")[:limit]
    )
    refreshed = 0
    for subscription in lapsed:
        try:
            subscription_sync(user=subscription.user)
        except RevenueCatUnavailable as exc:
            logger.warning("lapsed subscriptions not re-read, RevenueCat unavailable: %s", exc)
            break
        refreshed += 1
    return refreshed
