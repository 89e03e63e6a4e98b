"""Fixtures of the operations console tests: question logs at chosen instants."""

from datetime import datetime
from decimal import Decimal

import pytest

from coach.models import QuestionLog

LOG_DEFAULTS = {
    "game": "elden-ring",
    "plan": "free",
    "question": "말레니아 2페이즈 어떻게 피해요?",
    "answer": "물의 칼날을 피하려면 뒤로 크게 구르세요.",
    "model": "gpt-4o-mini",
    "latency_ms": 1200,
    "cost_usd": Decimal("0.00100000"),
}


def log_at(when: datetime, **fields) -> QuestionLog:
    """A QuestionLog created at `when` (created_at is auto_now_add, so it is set afterwards)."""
    log = QuestionLog.objects.create(**{**LOG_DEFAULTS, **fields})
    QuestionLog.objects.filter(pk=log.pk).update(created_at=when)
    log.created_at = when
    return log


@pytest.fixture
def make_log(db):
    return log_at


@pytest.fixture
def log_lines():
    """The JSON lines the service's console handler writes during the test, parsed."""
    import io
    import json
    import logging

    from config.observability.logs import JsonFormatter

    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    lines.raw = buffer.getvalue
    yield lines
    handler.setStream(previous)
