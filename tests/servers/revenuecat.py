"""RevenueCat's REST API v1 on loopback: GET /v1/subscribers/{app_user_id}, as documented, failures included.

The subscriber bodies follow RevenueCat's Customer Info model (request_date, request_date_ms, and a
subscriber with entitlements, subscriptions and non_subscriptions keyed by identifier, ISO dates).
Like RevenueCat, an unknown app_user_id gets an empty subscriber ("get or create"). Tests can take
the server down (connection refused) and up again on the same port, or make it answer 5xx.
revenuecat_configured() starts one and points the settings at it, for the fixtures that need one.
"""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscription(
    *,
    expires: datetime | None,
    purchased: datetime | None = None,
    store: str = "app_store",
    is_sandbox: bool = False,
    unsubscribed: datetime | None = None,
    billing_issue: datetime | None = None,
    grace_until: datetime | None = None,
    refunded: datetime | None = None,
    period_type: str = "normal",
) -> dict:
    """A Subscription object of the v1 subscriber (keyed by product id in subscriber.subscriptions)."""
    purchased = purchased or datetime.now(UTC) - timedelta(days=1)
    return {
        "auto_resume_date": None,
        "billing_issues_detected_at": iso(billing_issue),
        "expires_date": iso(expires),
        "grace_period_expires_date": iso(grace_until),
        "is_sandbox": is_sandbox,
        "original_purchase_date": iso(purchased),
        "ownership_type": "PURCHASED",
        "period_type": period_type,
        "purchase_date": iso(purchased),
        "refunded_at": iso(refunded),
        "store": store,
        "store_transaction_id": "1000000000000001",
        "unsubscribe_detected_at": iso(unsubscribed),
    }


def entitlement(product: str, *, expires: datetime | None, purchased: datetime | None = None,
                grace_until: datetime | None = None) -> dict:  # fmt: skip
    """An Entitlement object of the v1 subscriber (keyed by entitlement id in subscriber.entitlements)."""
    return {
        "expires_date": iso(expires),
        "grace_period_expires_date": iso(grace_until),
        "product_identifier": product,
        "purchase_date": iso(purchased or datetime.now(UTC) - timedelta(days=1)),
    }


def subscriber(app_user_id: str, *, entitlements: dict | None = None, subscriptions: dict | None = None,
               non_subscriptions: dict | None = None, original_app_user_id: str | None = None) -> dict:  # fmt: skip
    return {
        "entitlements": entitlements or {},
        "first_seen": "2025-01-01T00:00:00Z",
        "last_seen": iso(datetime.now(UTC)),
        "management_url": "https://apps.apple.com/account/subscriptions" if subscriptions else None,
        "non_subscriptions": non_subscriptions or {},
        "original_app_user_id": original_app_user_id or app_user_id,
        "original_application_version": None,
        "original_purchase_date": None,
        "other_purchases": {},
        "subscriptions": subscriptions or {},
        "subscriber_attributes": {},
    }


class RevenueCatServer:
    def __init__(self, api_key: str = "sk_test_local_revenuecat"):
        self.api_key = api_key
        self.subscribers: dict[str, dict] = {}
        self.requests: list[str] = []  # the app_user_ids asked for, in order
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- state the tests set ---
    def set_subscriber(self, app_user_id: str, **fields) -> dict:
        body = subscriber(app_user_id, **fields)
        with self._lock:
            self.subscribers[app_user_id] = body
        return body

    def fail(self, status: int = 500, times: int = 1) -> None:
        """The next `times` requests answer `status` with RevenueCat's error body."""
        with self._lock:
            self._failures.extend([status] * times)

    # --- lifecycle ---
    def start(self) -> "RevenueCatServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                prefix = "/v1/subscribers/"
                if not self.path.startswith(prefix) or "/" in self.path[len(prefix) :]:
                    return self._send(404, {"code": 7259, "message": "Not found."})
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, {"code": 7225, "message": "Invalid API Key."})
                app_user_id = unquote(self.path[len(prefix) :])
                with server._lock:
                    server.requests.append(app_user_id)
                    failure = server._failures.pop(0) if server._failures else None
                    body = server.subscribers.setdefault(app_user_id, subscriber(app_user_id))
                    body = json.loads(json.dumps(body))
                if failure:
                    return self._send(failure, {"code": 7110, "message": "Internal server error."})
                now_ms = int(time.time() * 1000)
                self._send(200, {"request_date": iso(datetime.fromtimestamp(now_ms / 1000, UTC)),
                                 "request_date_ms": now_ms, "subscriber": body})  # fmt: skip

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop answering: connections are refused until up()."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None

    def up(self) -> None:
        if self._httpd is None:
            self.start()

    stop = down


@contextmanager
def revenuecat_configured(settings, *, webhook_auth: str, **overrides) -> Iterator[RevenueCatServer]:
    """A started RevenueCatServer with the settings pointed at it (REST URL and key, the webhook's Authorization
    value), then `overrides` by setting name (REVENUECAT_HTTP_RETRIES=0...). `settings` is pytest-django's
    fixture, which restores them after the test; the server stops on exit."""
    server = RevenueCatServer().start()
    try:
        settings.REVENUECAT_API_BASE_URL = server.url
        settings.REVENUECAT_API_KEY = server.api_key
        settings.REVENUECAT_WEBHOOK_AUTH = webhook_auth
        for name, value in overrides.items():
            setattr(settings, name, value)
        yield server
    finally:
        server.stop()
