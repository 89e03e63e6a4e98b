"""Billing's writes: quota reservations, RevenueCat events and subscriptions (see each module)."""

from billing.services.quota import QuotaReservation, aquota_release, aquota_reserve, quota_release, quota_reserve
from billing.services.subscriptions import (
    subscription_sync,
    webhook_event_process,
    webhook_event_receive,
    webhook_event_requeue,
)

__all__ = [
    "QuotaReservation",
    "aquota_release",
    "aquota_reserve",
    "quota_release",
    "quota_reserve",
    "subscription_sync",
    "webhook_event_process",
    "webhook_event_receive",
    "webhook_event_requeue",
]
