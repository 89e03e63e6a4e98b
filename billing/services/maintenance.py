"""Periodic billing work run by django-celery-beat (its schedule: BillingConfig.beat_schedule)."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing.errors import RevenueCatUnavailable
from billing.models import CallRecord, Subscription, UsageCounter, WebhookEvent
from billing.plans import FREE
from billing.services.subscriptions import subscription_sync

logger = logging.getLogger(__name__)

# A pending event with no retry time was never tried: its queueing was lost (broker down). Give
# the worker this long to pick it up normally before the beat re-queues it.
_UNTRIED_GRACE = timedelta(minutes=2)
# An EXPIRATION delivery can be late or lost; a paid plan this far past its expiry gets re-read.
_LAPSED_AFTER = timedelta(hours=1)


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
