"""Quota: reserve one call of the user's plan atomically in PostgreSQL, and give it back once.

Every call counts in both the user's current week and current month (one UsageCounter row each),
and the limit is checked on the one the plan counts by, read at reservation time. So a plan change
mid-period applies at once and counts the calls already used, even between a weekly and a monthly
plan. The check and the increment are one statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE
used < limit), so with N calls left exactly N of any number of simultaneous requests succeed.
Redis plays no part: the quota holds when it is down.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection
from django.utils import timezone

from accounts.models import User
from billing.errors import QuotaExceeded
from billing.periods import period_bounds
from billing.plans import Plan
from billing.selectors import user_plan

# Both rows always in this order, in reservations and refunds alike (migrations 0003 and 0004), so two
# of them for one user never wait on each other crosswise.
_KINDS = ("week", "month")


@dataclass
class QuotaReservation:
    user_id: int
    period_start: date  # first day of the period the plan counts by
    remaining: int  # calls left after this one
    limit: int
    resets_at: datetime
    id: int = 0  # the CallRecord
    plan: str = ""
    period: str = ""
    released: bool = field(default=False)


def quota_exceeded(*, plan: Plan, resets_at: datetime) -> QuotaExceeded:
    seconds = max(1, math.ceil((resets_at - timezone.now()).total_seconds()))
    return QuotaExceeded(
        details={"plan": plan.name, "period": plan.period, "limit": plan.calls, "resets_at": resets_at.isoformat()},
        headers={"Retry-After": str(seconds)},
    )


def quota_reserve(*, user: User) -> QuotaReservation:
    """Spend one call of the user's plan in this period; QuotaExceeded (429) when none is left.

    One statement (billing_quota_reserve, migration 0003): both counters and the call record."""
    plan = user_plan(user=user)
    now = timezone.now()
    bounds = {kind: period_bounds(kind, now) for kind in _KINDS}
    start, resets_at = bounds[plan.period]
    if plan.calls <= 0:
        raise quota_exceeded(plan=plan, resets_at=resets_at)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT used, record_id FROM billing_quota_reserve(%s, %s, %s, %s, %s, %s)",
            [user.pk, plan.name, plan.period, plan.calls, bounds["week"][0], bounds["month"][0]],
        )
        used, record_id = cursor.fetchone()
    if used is None:
        raise quota_exceeded(plan=plan, resets_at=resets_at)
    return QuotaReservation(user_id=user.pk, period_start=start, remaining=plan.calls - used, limit=plan.calls,
                            resets_at=resets_at, id=record_id, plan=plan.name, period=plan.period)  # fmt: skip


def quota_release(*, reservation: QuotaReservation | None) -> None:
    """Give the reserved call back (its answer failed or cost nothing). Twice gives back one call."""
    if reservation is None or not reservation.id:
        return
    with connection.cursor() as cursor:  # one statement: the record marked and both counters, or nothing
        # billing_quota_release (migration 0004) takes the week row before the month row, as the
        # reservation does: a refund and a reservation of one player never wait on each other crosswise.
        cursor.execute("SELECT billing_quota_release(%s)", [reservation.id])
    reservation.released = True
