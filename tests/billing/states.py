"""Subscriber states RevenueCat's REST API reports after the events the tests deliver."""

from datetime import UTC, datetime, timedelta

from tests.servers.revenuecat import entitlement, subscription

PLAN_PRODUCTS = {"basic": "basic_weekly", "basic_special": "basic_special_monthly"}


def now() -> datetime:
    return datetime.now(UTC)


def subscribed(server, app_user_id: str, plan: str = "basic", *, expires: datetime | None = None,
               **subscription_fields) -> None:  # fmt: skip
    """The subscriber holds the plan's entitlement through its product until `expires` (default: a week on)."""
    product = PLAN_PRODUCTS[plan]
    expires = expires or now() + timedelta(days=7)
    server.set_subscriber(
        app_user_id,
        entitlements={plan: entitlement(product, expires=expires, grace_until=subscription_fields.get("grace_until"))},
        subscriptions={product: subscription(expires=expires, **subscription_fields)},
    )


def expired(server, app_user_id: str, plan: str = "basic") -> None:
    """The entitlement and subscription ended an hour ago (what RevenueCat shows after EXPIRATION)."""
    subscribed(server, app_user_id, plan, expires=now() - timedelta(hours=1), unsubscribed=now() - timedelta(days=2))
