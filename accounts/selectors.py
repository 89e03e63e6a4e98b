"""Reads for accounts: the signed-in player's profile together with their plan and this period's usage."""

from dataclasses import dataclass
from typing import Any

from billing.selectors import usage_summary

from .models import User

USAGE_FIELDS = ("period", "period_start", "used", "remaining", "limit", "resets_at")


@dataclass(frozen=True)
class Me:
    user: User
    plan: str
    usage: dict[str, Any]  # {"period", "period_start", "used", "remaining", "limit", "resets_at"}
    subscription: dict[str, Any] | None  # billing's paid subscription; None on the free plan


def user_me(*, user: User) -> Me:
    """The player with their plan ("free" without a subscription) and calls used and left this period."""
    summary = usage_summary(user=user)
    return Me(
        user=user,
        plan=summary["plan"],
        usage={name: summary[name] for name in USAGE_FIELDS},
        subscription=summary["subscription"],
    )
