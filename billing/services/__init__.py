"""Billing's writes: quota reservations, RevenueCat events and subscriptions, plan overrides (see each module)."""

from billing.services.overrides import plan_override_end, plan_override_grant
from billing.services.quota import QuotaReservation, quota_release, quota_reserve
from billing.services.subscriptions import (
    subscription_sync,
    webhook_event_process,
    webhook_event_receive,
    webhook_event_requeue,
)

__all__ = [
    "QuotaReservation",
    "plan_override_end",
    "plan_override_grant",
    "quota_release",
    "quota_reserve",
    "subscription_sync",
    "webhook_event_process",
    "webhook_event_receive",
    "webhook_event_requeue",
]
