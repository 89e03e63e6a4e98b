"""JSON log lines (one object per line) carrying the request id and user id, with secrets redacted.

Configured in settings.LOGGING (the `# --- observability ---` block): RequestContextFilter and
RedactingFilter on the console handler, then JsonFormatter (or TextFormatter with LOG_FORMAT=text).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from .context import current, current_user_id

REDACTED = "[REDACTED]"
_PATTERNS = [
    # A header or setting written out with its value: "Authorization: Bearer ...", "api_key=...".
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-api-key|api[_-]?key|cookie|set-cookie|password|secret)"
            r"([\"']?\s*[:=]\s*[\"']?)([^\"'\n,;}]+)"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), f"Bearer {REDACTED}"),
    # OpenAI keys (sk-..., sk-proj-...) and RevenueCat secret keys (sk_...).
    (re.compile(r"\bsk[-_][A-Za-z0-9_-]{6,}"), REDACTED),
    # Anything shaped like a JWT: base64url header (always starts "eyJ"), payload and signature.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
]
# Extra fields whose whole value is a secret, whatever it looks like ("prompt_tokens" is not one).
_SECRET_KEY = re.compile(r"(?i)^(.*[_-])?(password|passwd|secret|token|api_?key|authorization|cookie|jwt)$")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
RESERVED_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_OWN = {"request_id", "user_id"}


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value, key: str | None = None):
    """A copy of value with secrets replaced: strings by pattern, secret-named keys whole."""
    if key is not None and _SECRET_KEY.match(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact_value(v) for v in value]
    return value


def extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in RESERVED_ATTRS and k not in _OWN}


class RequestContextFilter(logging.Filter):
    """Puts the current request's id and user id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current.get()
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id if context else None
        if not hasattr(record, "user_id"):
            record.user_id = current_user_id()
        return True


class RedactingFilter(logging.Filter):
    """Rewrites the message, its arguments and extra fields with secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        for key, value in extra_fields(record).items():
            setattr(record, key, redact_value(value, key))
        return True


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info:
        return redact(formatter.formatException(record.exc_info))
    if record.exc_text:
        return redact(record.exc_text)
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, user_id, then extra fields.

    The message and the extra fields come redacted by RedactingFilter (on the handler, settings.LOGGING);
    the formatters redact what they write themselves: a traceback, a stack."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        exception = _exception_text(self, record)
        if exception:
            line["exception"] = exception
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same fields for a human at a terminal: `time level logger [request_id] message key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(f"{k}={v}" for k, v in extra_fields(record).items())
        request_id = getattr(record, "request_id", None) or "-"
        text = f"{time} {record.levelname:<7} {record.name} [{request_id}] {record.getMessage()}"
        text = f"{text} {extras}" if extras else text
        exception = _exception_text(self, record)
        return f"{text}\n{exception}" if exception else text
