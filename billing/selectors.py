"""Reads with logic: a user's plan (a staff override, else their subscription, else free) and their usage."""

import functools
import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from billing.models import PlanOverride, Subscription, UsageCounter
from billing.periods import period_bounds
from billing.plans import FREE, Plan, plans_all

logger = logging.getLogger(__name__)


def _plan_named(name: str | None, *, user_id: int) -> Plan:
    plans = plans_all()
    if name and name not in plans:
        logger.warning("user %s has plan %r, which is no longer configured; treating as free", user_id, name)
    return plans.get(name or FREE) or plans[FREE]


def _plan_resolve(*, override: str | None, subscription: str | None, user_id: int) -> Plan:
    """The override wins while it names a configured plan; a plan removed from the configuration since
    the grant falls back to the subscription rather than silently to free."""
    if override:
        if override in plans_all():
            return plans_all()[override]
        logger.warning("user %s has an override to plan %r, which is no longer configured; ignored", user_id, override)
    return _plan_named(subscription, user_id=user_id)


def plan_overrides_active(*, at: datetime | None = None) -> QuerySet[PlanOverride]:
    """Overrides in force at `at` (now): not ended by staff and not expired; newest first."""
    at = at or timezone.now()
    return PlanOverride.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at), ended_at__isnull=True,
                                       created_at__lte=at).order_by("-created_at", "-pk")  # fmt: skip


def plan_override_active(*, user: User, at: datetime | None = None) -> PlanOverride | None:
    """The override that decides the user's plan now, if any (the newest active one)."""
    return plan_overrides_active(at=at).filter(user_id=user.pk).first()


def _plan_name_annotations(at: datetime) -> dict[str, Any]:
    """Subqueries for a User queryset: the newest active override's plan and the subscription's plan."""
    return {
        "plan_override_name": Subquery(plan_overrides_active(at=at).filter(user_id=OuterRef("pk")).values("plan")[:1]),
        "plan_subscription_name": Subquery(Subscription.objects.filter(user_id=OuterRef("pk")).values("plan")[:1]),
    }


def users_annotate_plan_usage(queryset: QuerySet[User], *, at: datetime | None = None) -> QuerySet[User]:
    """Add what users_plan_usage needs to a User queryset, as subqueries: one query for any number of users.

    Annotations: plan_override_name, plan_subscription_name, calls_week_used, calls_month_used (this
    period's counters; which one counts depends on the plan, so both are read).
    """
    at = at or timezone.now()
    week_start, month_start = period_bounds("week", at)[0], period_bounds("month", at)[0]
    counters = UsageCounter.objects.filter(user_id=OuterRef("pk"))
    return queryset.annotate(
        **_plan_name_annotations(at),
        calls_week_used=Subquery(counters.filter(period="week", period_start=week_start).values("used")[:1]),
        calls_month_used=Subquery(counters.filter(period="month", period_start=month_start).values("used")[:1]),
    )


def users_plan_usage(user: Any) -> dict[str, Any]:  # a User row with those annotations
    """For a user row from users_annotate_plan_usage: {"plan": Plan, "overridden", "used", "remaining"}."""
    plan = _plan_resolve(override=user.plan_override_name, subscription=user.plan_subscription_name,
                         user_id=user.pk)  # fmt: skip
    used = (user.calls_week_used if plan.period == "week" else user.calls_month_used) or 0
    return {"plan": plan, "overridden": plan.name == user.plan_override_name, "used": used,
            "remaining": max(0, plan.calls - used)}  # fmt: skip


# user_with_plan_usage: the subqueries of users_annotate_plan_usage (an active override: not ended, not
# expired, already started, newest first; the subscription's plan; this week's and this month's
# counters), written out once as SQL because the ask runs it on every question and the ORM spends
# about a millisecond of CPU compiling the annotated queryset each time. tests/billing compare the
# two. The user's columns are named, not u.*: a prepared statement (DB_PREPARED_STATEMENTS) whose row
# type changed under it, say by a migration adding a column, fails with "cached plan must not change
# result type".
@functools.cache
def _user_with_plan_usage_sql() -> str:
    User = get_user_model()
    # A concrete field always has a column; the stub types Field.column for all fields (str | None).
    columns = ", ".join(
        f"u.{connection.ops.quote_name(field.column)}"  # type: ignore[arg-type]
        for field in User._meta.concrete_fields
    )
    counters = UsageCounter._meta.db_table
    return f"""
    SELECT {columns},
        (SELECT o.plan FROM {PlanOverride._meta.db_table} o
         WHERE o.user_id = u.id AND o.ended_at IS NULL AND (o.expires_at IS NULL OR o.expires_at > %(at)s)
           AND o.created_at <= %(at)s
         ORDER BY o.created_at DESC, o.id DESC LIMIT 1) AS plan_override_name,
        (SELECT s.plan FROM {Subscription._meta.db_table} s WHERE s.user_id = u.id LIMIT 1) AS plan_subscription_name,
        (SELECT c.used FROM {counters} c WHERE c.user_id = u.id AND c.period = 'week'
           AND c.period_start = %(week_start)s) AS calls_week_used,
        (SELECT c.used FROM {counters} c WHERE c.user_id = u.id AND c.period = 'month'
           AND c.period_start = %(month_start)s) AS calls_month_used
    FROM {User._meta.db_table} u WHERE u.id = %(user_id)s
    """  # noqa: S608 - table and column names are ours


def user_with_plan_usage(*, user_id: int, at: datetime | None = None) -> User | None:
    """The user as users_annotate_plan_usage reads them (user_plan then needs no query, and
    users_plan_usage says the calls left), or None: one query."""
    at = at or timezone.now()
    params = {"user_id": user_id, "at": at, "week_start": period_bounds("week", at)[0],
              "month_start": period_bounds("month", at)[0]}  # fmt: skip
    return next(iter(get_user_model().objects.raw(_user_with_plan_usage_sql(), params)), None)


def user_plan(*, user: User) -> Plan:
    """The plan the user has now: an active staff override's, else their subscription's, else free.

    No query for a user read by user_with_plan_usage (the ask's way, on every question); else one.
    """
    if hasattr(user, "plan_override_name") and hasattr(user, "plan_subscription_name"):
        return _plan_resolve(override=user.plan_override_name, subscription=user.plan_subscription_name,
                             user_id=user.pk)  # fmt: skip
    User = get_user_model()
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(**_plan_name_annotations(timezone.now()))
        # the plugin cannot see annotations passed as **dict
        .values_list("plan_override_name", "plan_subscription_name")  # type: ignore[misc]
        .first()
    )
    override, subscription = row or (None, None)
    return _plan_resolve(override=override, subscription=subscription, user_id=user.pk)


def usage_summary(*, user: User) -> dict[str, Any]:
    """Plan, period, calls used and left, when they come back, the paid subscription and the override if any."""
    subscription = Subscription.objects.filter(user_id=user.pk).first()
    override = plan_override_active(user=user)
    plan = _plan_resolve(override=override.plan if override else None,
                         subscription=subscription.plan if subscription else None, user_id=user.pk)  # fmt: skip
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
    granted = None
    if override is not None and override.plan == plan.name:
        # The player sees that support granted the plan and until when, never staff's note.
        expires_at = override.expires_at.isoformat() if override.expires_at else None
        granted = {"plan": override.plan, "expires_at": expires_at}
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
        "override": granted,
    }
