"""RevenueCat webhooks in, plans out: store every delivery, then re-read the subscriber and derive the plan.

The plan never comes from one event's fields: after any event the subscriber is re-read from
RevenueCat's REST API, so the result does not depend on the order or repetition of deliveries.
event_timestamp_ms is a high-water mark: an event no newer than one whose REST read already
happened needs no new read.
"""

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from billing.errors import InvalidWebhookPayload, RevenueCatUnavailable
from billing.models import SubscriberAlias, Subscription, WebhookEvent
from billing.plans import FREE, plans_all
from billing.services import revenuecat
from config.observability import metrics

logger = logging.getLogger(__name__)
Status = WebhookEvent.Status
_MAX_RETRY_WAIT = timedelta(hours=1)


# --- receiving ----------------------------------------------------------------------------------


def _malformed(text: str, reason: str) -> InvalidWebhookPayload:
    WebhookEvent.objects.create(raw_body=text, status=Status.MALFORMED, error=reason)
    logger.warning("malformed RevenueCat webhook kept for inspection: %s", reason)
    return InvalidWebhookPayload(details={"reason": reason})


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def webhook_event_receive(*, raw_body: bytes) -> tuple[WebhookEvent, bool]:
    """Store one delivery and queue its processing; (event, created). A redelivery changes nothing.

    Raises InvalidWebhookPayload (400) for a body that is not an event, after keeping it as MALFORMED.
    """
    text = raw_body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    if "\\u0000" in text:  # PostgreSQL's jsonb cannot hold NUL; RevenueCat never sends it
        raise _malformed(text, "the JSON contains a NUL character")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise _malformed(text, f"not JSON: {exc}") from exc
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict):
        raise _malformed(text, "no event object")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise _malformed(text, "event.id and event.type must be non-empty strings")

    app_user_id = event.get("app_user_id")
    defaults = {
        "type": event_type[:60],
        "app_user_id": app_user_id[:255] if isinstance(app_user_id, str) else "",
        "environment": str(event.get("environment") or "")[:20],
        "event_timestamp_ms": _int_or_none(event.get("event_timestamp_ms")),
        "raw_body": text,
        "payload": body,
    }
    with transaction.atomic():
        stored, created = WebhookEvent.objects.get_or_create(event_id=event_id[:255], defaults=defaults)
        if created:
            _queue(stored.pk)
    return stored, created


def _queue(event_pk: int) -> None:
    def send() -> None:
        from billing.tasks import revenuecat_event_process  # tasks import this module

        try:
            revenuecat_event_process.delay(event_pk)
        except Exception as exc:  # broker down: the event is stored, and the beat re-queues it
            logger.warning("could not queue RevenueCat event %s: %s", event_pk, exc)

    transaction.on_commit(send)


# --- finding our users --------------------------------------------------------------------------


def _ids(*values: object) -> list[str]:
    found: list[str] = []
    for value in values:
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, str) and item and item not in found:
                found.append(item)
    return found


def users_by_app_user_ids(app_user_ids: Iterable[str]) -> list[User]:
    """Our users behind these RevenueCat ids: our public_id itself, or an alias recorded earlier."""
    app_user_ids = list(app_user_ids)
    public_ids = []
    for value in app_user_ids:
        try:
            public_ids.append(uuid.UUID(value))
        except ValueError:
            continue
    User = get_user_model()
    users = {user.pk: user for user in User.objects.filter(public_id__in=public_ids)}
    for alias in SubscriberAlias.objects.filter(app_user_id__in=app_user_ids).select_related("user"):
        users.setdefault(alias.user_id, alias.user)
    return list(users.values())


def _aliases_record(user: User, app_user_ids: Iterable[str]) -> None:
    own = str(user.public_id)
    for app_user_id in app_user_ids:
        if app_user_id != own:
            SubscriberAlias.objects.get_or_create(app_user_id=app_user_id[:255], defaults={"user": user})


# --- deriving the plan from RevenueCat's subscriber ----------------------------------------------


@dataclass(frozen=True)
class Grant:
    plan: str
    rank: int
    entitlement_id: str
    product_id: str
    purchase: dict[str, Any]
    expires_at: datetime | None


def _when(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _active(item: dict[str, Any], now: datetime) -> bool:
    if item.get("expires_date") is None:
        return True  # lifetime / non-expiring
    ends = [moment for moment in (_when(item.get("expires_date")), _when(item.get("grace_period_expires_date")))
            if moment is not None]  # fmt: skip
    return any(moment > now for moment in ends)


def subscriber_grant(subscriber: dict[str, Any], *, now: datetime) -> Grant | None:
    """The best plan the subscriber's active entitlements (or mapped products) give, by configuration."""
    plans = plans_all()
    entitlement_plans = settings.REVENUECAT_ENTITLEMENT_PLANS
    product_plans = settings.REVENUECAT_PRODUCT_PLANS
    subscriptions = subscriber.get("subscriptions") or {}
    non_subscriptions = subscriber.get("non_subscriptions") or {}

    def purchase_of(product: str) -> dict[str, Any]:
        if isinstance(found := subscriptions.get(product), dict):
            return found
        bought = non_subscriptions.get(product)
        return bought[-1] if isinstance(bought, list) and bought and isinstance(bought[-1], dict) else {}

    candidates = []
    for entitlement_id, entitlement in (subscriber.get("entitlements") or {}).items():
        if not isinstance(entitlement, dict):
            continue
        product = str(entitlement.get("product_identifier") or "")
        plan = entitlement_plans.get(entitlement_id) or product_plans.get(product)
        if plan and _active(entitlement, now):
            candidates.append((plan, entitlement_id, product, purchase_of(product), entitlement))
    for product, purchase in subscriptions.items():
        plan = product_plans.get(product)
        if plan and isinstance(purchase, dict) and _active(purchase, now):
            candidates.append((plan, "", product, purchase, purchase))

    best = None
    for plan, entitlement_id, product, purchase, source in candidates:
        if purchase.get("is_sandbox") and not settings.REVENUECAT_ALLOW_SANDBOX:
            continue
        if plan not in plans:
            logger.warning("RevenueCat maps %s to plan %r, which is not configured", entitlement_id or product, plan)
            continue
        grant = Grant(plan, plans[plan].rank, entitlement_id, product, purchase, _when(source.get("expires_date")))
        later = datetime.max.replace(tzinfo=UTC)
        if best is None or (grant.rank, grant.expires_at or later) > (best.rank, best.expires_at or later):
            best = grant
    return best


def subscription_sync(*, user: User, event_timestamp_ms: int | None = None) -> Subscription:
    """Re-read the user's subscriber from RevenueCat and store the plan it gives.

    Raises RevenueCatUnavailable (nothing changed) when the REST API cannot be read.
    """
    subscription, _ = Subscription.objects.get_or_create(user=user)
    if event_timestamp_ms is not None and event_timestamp_ms <= subscription.last_event_ms:
        return subscription  # a REST read made after a newer event already reflects this one
    snapshot = revenuecat.subscriber_get(str(user.public_id))
    read_at = datetime.fromtimestamp(snapshot.request_date_ms / 1000, tz=UTC)
    grant = subscriber_grant(snapshot.subscriber, now=read_at)
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if snapshot.request_date_ms >= subscription.snapshot_at_ms:
            _subscription_fill(subscription, grant)
            subscription.snapshot = snapshot.subscriber
            subscription.snapshot_at_ms = snapshot.request_date_ms
        if event_timestamp_ms is not None:
            subscription.last_event_ms = max(subscription.last_event_ms, event_timestamp_ms)
        subscription.save()
    return subscription


def _subscription_fill(subscription: Subscription, grant: Grant | None) -> None:
    if grant is None:
        subscription.plan = FREE
        subscription.will_renew = False
        subscription.billing_issue_detected_at = None
        return  # store, product and expiry stay as the last paid subscription's, for support
    purchase = grant.purchase
    subscription.plan = grant.plan
    subscription.entitlement_id = grant.entitlement_id
    subscription.product_id = grant.product_id
    subscription.store = str(purchase.get("store") or "")[:30]
    subscription.expires_at = grant.expires_at
    subscription.is_sandbox = bool(purchase.get("is_sandbox"))
    subscription.will_renew = (
        grant.expires_at is not None
        and purchase.get("unsubscribe_detected_at") is None
        and purchase.get("refunded_at") is None
        and purchase.get("store") != "promotional"
    )
    subscription.billing_issue_detected_at = _when(purchase.get("billing_issues_detected_at"))


# --- processing: one table of handlers ----------------------------------------------------------


def _sync_subscriber(event: dict[str, Any]) -> tuple[str, object]:
    """Events that may change access: record the ids, re-read the subscriber, derive the plan."""
    app_user_ids = _ids(event.get("app_user_id"), event.get("original_app_user_id"), event.get("aliases"))
    users = users_by_app_user_ids(app_user_ids)
    if not users:
        return Status.IGNORED, "no user of ours matches app_user_id, original_app_user_id or aliases"
    for user in users:
        _aliases_record(user, app_user_ids)
        subscription_sync(user=user, event_timestamp_ms=_int_or_none(event.get("event_timestamp_ms")))
    return Status.PROCESSED, users[0]


def _sync_transfer(event: dict[str, Any]) -> tuple[str, object]:
    """TRANSFER has no app_user_id: purchases moved from transferred_from to transferred_to; re-read both."""
    users = users_by_app_user_ids(_ids(event.get("transferred_to"), event.get("transferred_from")))
    if not users:
        return Status.IGNORED, "no user of ours among transferred_from / transferred_to"
    for user in users:
        subscription_sync(user=user, event_timestamp_ms=_int_or_none(event.get("event_timestamp_ms")))
    return Status.PROCESSED, users[0]


def _record_only(event: dict[str, Any]) -> tuple[str, object]:
    """Events that never change access (invoices, virtual currency, experiments): learn the ids only."""
    app_user_ids = _ids(event.get("app_user_id"), event.get("original_app_user_id"), event.get("aliases"))
    users = users_by_app_user_ids(app_user_ids)
    for user in users:
        _aliases_record(user, app_user_ids)
    return Status.PROCESSED, users[0] if users else None


def _acknowledge_test(event: dict[str, Any]) -> tuple[str, object]:
    logger.info("RevenueCat TEST event %s received", event.get("id"))
    return Status.PROCESSED, None


EVENT_HANDLERS: dict[str, Callable[[dict[str, Any]], tuple[str, object]]] = {
    # Access can change: re-read. CANCELLATION and SUBSCRIPTION_PAUSED keep access until the
    # subscriber's expiry passes, which the REST read shows and EXPIRATION then confirms.
    "INITIAL_PURCHASE": _sync_subscriber,
    "RENEWAL": _sync_subscriber,
    "PRODUCT_CHANGE": _sync_subscriber,
    "CANCELLATION": _sync_subscriber,
    "UNCANCELLATION": _sync_subscriber,
    "NON_RENEWING_PURCHASE": _sync_subscriber,
    "EXPIRATION": _sync_subscriber,
    "BILLING_ISSUE": _sync_subscriber,
    "SUBSCRIPTION_PAUSED": _sync_subscriber,
    "SUBSCRIPTION_EXTENDED": _sync_subscriber,
    "TEMPORARY_ENTITLEMENT_GRANT": _sync_subscriber,
    "REFUND_REVERSED": _sync_subscriber,
    "SUBSCRIBER_ALIAS": _sync_subscriber,  # links an anonymous id to ours: learn it and re-read
    "TRANSFER": _sync_transfer,
    "INVOICE_ISSUANCE": _record_only,
    "VIRTUAL_CURRENCY_TRANSACTION": _record_only,
    "EXPERIMENT_ENROLLMENT": _record_only,
    "TEST": _acknowledge_test,
}


def retry_wait(attempts: int) -> timedelta:
    """How long an event whose REST read failed `attempts` times waits before the next try."""
    wait = timedelta(seconds=settings.REVENUECAT_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return min(wait, _MAX_RETRY_WAIT)


def webhook_event_process(*, event_pk: int) -> WebhookEvent:
    """Apply one stored event; safe to run twice. Re-raises RevenueCatUnavailable (left PENDING, retried)."""
    stored = WebhookEvent.objects.get(pk=event_pk)
    if stored.status != Status.PENDING:
        return stored
    assert stored.payload is not None  # a PENDING event was stored with its body (webhook_event_receive)
    event = stored.payload["event"]
    handler = EVENT_HANDLERS.get(stored.type)
    status: str
    result: object
    try:
        if stored.environment.upper() == "SANDBOX" and not settings.REVENUECAT_ALLOW_SANDBOX:
            status, result = Status.IGNORED, "sandbox event; REVENUECAT_ALLOW_SANDBOX is off"
        elif handler is None:
            logger.warning("unknown RevenueCat event type %r (%s), acknowledged", stored.type, stored.event_id)
            status, result = Status.IGNORED, f"unknown event type {stored.type}"
        else:
            status, result = handler(event)
    except RevenueCatUnavailable as exc:
        attempts = stored.attempts + 1
        WebhookEvent.objects.filter(pk=stored.pk, status=Status.PENDING).update(
            attempts=attempts, error=str(exc)[:2000], next_attempt_at=timezone.now() + retry_wait(attempts)
        )
        logger.warning("RevenueCat event %s stays pending: %s", stored.event_id, exc)
        _counted(stored, "retry")
        raise
    except Exception as exc:
        logger.exception("RevenueCat event %s failed", stored.event_id)
        WebhookEvent.objects.filter(pk=stored.pk, status=Status.PENDING).update(
            status=Status.FAILED, attempts=stored.attempts + 1, error=repr(exc)[:2000], processed_at=timezone.now()
        )
        stored.refresh_from_db()
        _counted(stored, "failed")
        return stored

    user = result if isinstance(result, get_user_model()) else None
    note = result if isinstance(result, str) else ""
    WebhookEvent.objects.filter(pk=stored.pk, status=Status.PENDING).update(
        status=status, note=note[:255], error="", user=user, attempts=stored.attempts + 1,
        processed_at=timezone.now(), next_attempt_at=None,
    )  # fmt: skip
    stored.refresh_from_db()
    _counted(stored, status)
    return stored


def _counted(stored: WebhookEvent, outcome: str) -> None:
    """gamecoach_revenuecat_events_total; a type we have no handler for is "unknown", so senders cannot add series."""
    metrics.revenuecat_event_record(stored.type if stored.type in EVENT_HANDLERS else "unknown", outcome)


def webhook_event_requeue(*, event_pk: int) -> bool:
    """Put a FAILED (or PENDING) event back in the queue, e.g. from the admin after a fix; False if not one."""
    with transaction.atomic():
        updated = WebhookEvent.objects.filter(pk=event_pk, status__in=[Status.PENDING, Status.FAILED]).update(
            status=Status.PENDING, next_attempt_at=None
        )
        if updated:
            _queue(event_pk)
    return bool(updated)
