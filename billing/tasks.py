"""Celery tasks: process one RevenueCat event, and the periodic billing work beat runs."""

import logging

from celery import shared_task

from billing.errors import RevenueCatUnavailable
from billing.models import WebhookEvent
from billing.services import maintenance
from billing.services.subscriptions import retry_wait, webhook_event_process

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8, acks_late=True)
def revenuecat_event_process(self, event_pk: int) -> str:
    try:
        return webhook_event_process(event_pk=event_pk).status
    except WebhookEvent.DoesNotExist:
        logger.warning("RevenueCat event %s no longer exists", event_pk)
        return "missing"
    except RevenueCatUnavailable as exc:
        # The event stays pending; this retry, or the beat's re-queue, tries it again later.
        raise self.retry(exc=exc, countdown=retry_wait(self.request.retries + 1).total_seconds()) from exc


@shared_task
def webhook_events_requeue() -> int:
    due = maintenance.webhook_events_due()
    for event_pk in due:
        revenuecat_event_process.delay(event_pk)
    return len(due)


@shared_task
def quota_periods_rollover() -> dict:
    return maintenance.quota_periods_rollover()


@shared_task
def subscriptions_refresh_lapsed() -> int:
    return maintenance.subscriptions_refresh_lapsed()
