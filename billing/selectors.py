"""Reads with logic: a user's plan (free without a subscription) and their usage this period."""

import logging

from billing.models import Subscription, UsageCounter
from billing.periods import period_bounds
from config.plans import FREE, Plan, plans_all

logger = logging.getLogger(__name__)


def _plan_named(name: str | None, *, user_id: int) -> Plan:
    plans = plans_all()
    if name and name not in plans:
        logger.warning("user %s has plan %r, which is no longer configured; treating as free", user_id, name)
    return plans.get(name or FREE) or plans[FREE]


def user_plan(*, user) -> Plan:
    """The plan the user has now: their subscription's, or free."""
    name = Subscription.objects.filter(user_id=user.pk).values_list("plan", flat=True).first()
    return _plan_named(name, user_id=user.pk)


def usage_summary(*, user) -> dict:
    """Plan, period, calls used and left, when they come back, and the paid subscription if any."""
    subscription = Subscription.objects.filter(user_id=user.pk).first()
    plan = _plan_named(subscription.plan if subscription else None, user_id=user.pk)
    start, resets_at = period_bounds(plan.period)
    used = (
        UsageCounter.objects.filter(user_id=user.pk, period=plan.period, period_start=start)
        .values_list("used", flat=True)
        .first()
    ) or 0
    paid = None
    if subscription is not None and subscription.plan != FREE:
        paid = {
            "store": subscription.store,
            "product_id": subscription.product_id,
            "expires_at": subscription.expires_at.isoformat() if subscription.expires_at else None,
            "will_renew": subscription.will_renew,
            "billing_issue": subscription.billing_issue_detected_at is not None,
        }
    return {
        "plan": plan.name,
        "model": plan.model,
        "period": plan.period,
        "period_start": start.isoformat(),
        "used": used,
        "limit": plan.calls,
        "remaining": max(0, plan.calls - used),
        "resets_at": resets_at.isoformat(),
        "prompt_tokens": plan.prompt_tokens,
        "response_tokens": plan.response_tokens,
        "subscription": paid,
    }
