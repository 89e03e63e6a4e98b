"""Reliability fixtures: the demo knowledge, players with tokens, the LLM on loopback, outages of real servers."""

import contextlib
import json
import logging
import time

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from billing.models import Subscription
from config import throttles
from dev.demo.loader import demo_load
from tests.embedded import embedded_servers, embedded_start, embedded_stop
from tests.factories import UserFactory

ASK = "/api/coach/ask"
MALENIA = "말레니아 2페이즈 어떻게 피해요?"


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def player(plan: str = "free", **fields):
    """A player on a plan (a Subscription row is what billing reads)."""
    user = UserFactory(**fields)
    if plan != "free":
        Subscription.objects.create(user=user, plan=plan)
    return user


def is_error_shape(body, code: str | None = None) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
        and (code is None or error["code"] == code)
    )


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


@pytest.fixture
def demo(db):
    demo_load()


@pytest.fixture(autouse=True)
def _fresh_rate_limit_state():
    """Each test starts with Redis considered up and no in-memory rate-limit windows."""
    throttles.memory_windows.clear()
    throttles._down_until.clear()
    yield
    throttles.memory_windows.clear()
    throttles._down_until.clear()


class Outage:
    """Stops a real server of the suite and starts it again on the same port and data (try/finally safe)."""

    def __init__(self, name: str):
        if name not in embedded_servers():
            pytest.skip(f"the suite runs on external services; cannot stop {name}")
        self.name = name

    def stop(self) -> None:
        embedded_stop(self.name)

    def start(self) -> None:
        embedded_start(self.name)
        if self.name == "postgres":
            connection.close()  # this thread's connection died with the server; the next query reconnects

    @contextlib.contextmanager
    def during(self):
        self.stop()
        try:
            yield self
        finally:
            self.start()


@pytest.fixture
def redis_outage():
    outage = Outage("valkey")
    yield outage
    outage.start()


@pytest.fixture
def postgres_outage():
    outage = Outage("postgres")
    yield outage
    outage.start()


class JsonLines(logging.Handler):
    """Collects what the console handler would print, formatted exactly as in production (JSON lines)."""

    def __init__(self):
        super().__init__()
        from config.observability.logs import JsonFormatter, RedactingFilter, RequestContextFilter

        self.setFormatter(JsonFormatter())
        self.addFilter(RequestContextFilter())
        self.addFilter(RedactingFilter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_log():
    handler = JsonLines()
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in ("uvicorn", "uvicorn.access", "uvicorn.error"))]
    for logger in loggers:
        logger.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield handler
    root.setLevel(previous)
    for logger in loggers:
        logger.removeHandler(handler)
