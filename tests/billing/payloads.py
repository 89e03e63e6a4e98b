"""RevenueCat webhook bodies shaped like the documented samples (Event Types and Fields, Sample Events)."""

import itertools
import time
import uuid

_clock = itertools.count(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def event(event_type: str, app_user_id: str | None, *, product_id: str = "basic_weekly",
          entitlement_ids: list[str] | None = None, environment: str = "PRODUCTION",
          aliases: list[str] | None = None, original_app_user_id: str | None = None,
          event_timestamp_ms: int | None = None, store: str = "APP_STORE", **fields) -> dict:  # fmt: skip
    """{"api_version": "1.0", "event": {...}} with the fields RevenueCat's samples carry."""
    purchased = now_ms() - 60_000
    body = {
        "event_timestamp_ms": event_timestamp_ms or now_ms() + next(_clock),
        "product_id": product_id,
        "period_type": "NORMAL",
        "purchased_at_ms": purchased,
        "expiration_at_ms": purchased + 7 * 24 * 3600 * 1000,
        "environment": environment,
        "entitlement_id": None,
        "entitlement_ids": entitlement_ids if entitlement_ids is not None else ["basic"],
        "presented_offering_id": None,
        "transaction_id": "123456789012345",
        "original_transaction_id": "123456789012345",
        "is_family_share": False,
        "country_code": "KR",
        "app_user_id": app_user_id,
        "aliases": aliases if aliases is not None else ([app_user_id] if app_user_id else []),
        "original_app_user_id": original_app_user_id or app_user_id,
        "currency": "KRW",
        "price": 3.29,
        "price_in_purchased_currency": 4400,
        "subscriber_attributes": {"$email": {"updated_at_ms": purchased, "value": "player@example.com"}},
        "store": store,
        "takehome_percentage": 0.7,
        "tax_percentage": 0.09,
        "commission_percentage": 0.3,
        "offer_code": None,
        "type": event_type,
        "id": str(uuid.uuid4()).upper(),
        "app_id": "app1234567890",
    }
    if event_type == "CANCELLATION":
        body["cancel_reason"] = "UNSUBSCRIBE"
    if event_type == "EXPIRATION":
        body["expiration_reason"] = "UNSUBSCRIBE"
    body.update(fields)
    return {"event": body, "api_version": "1.0"}


def transfer(transferred_from: list[str], transferred_to: list[str], **fields) -> dict:
    """TRANSFER carries no app_user_id: the ids the purchases moved from and to."""
    body = {
        "app_id": "app1234567890",
        "event_timestamp_ms": now_ms() + next(_clock),
        "id": str(uuid.uuid4()).upper(),
        "store": "APP_STORE",
        "transferred_from": transferred_from,
        "transferred_to": transferred_to,
        "type": "TRANSFER",
        "environment": "PRODUCTION",
    }
    body.update(fields)
    return {"event": body, "api_version": "1.0"}
