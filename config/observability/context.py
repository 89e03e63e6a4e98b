"""The current request as seen by logging: its id, its user and extra fields for its access log line."""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.utils.functional import SimpleLazyObject, empty

# A client's id is reused only when it is short and made of safe characters (it goes into every
# log line and back into a response header).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class RequestContext:
    request_id: str
    request: object | None = None
    fields: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)


current: ContextVar[RequestContext | None] = ContextVar("gamecoach_request", default=None)


def request_id_from(header_value: str | None) -> str:
    """The client's X-Request-ID when it is safe to echo, otherwise a new one."""
    if header_value and _SAFE_REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def request_id_get() -> str | None:
    context = current.get()
    return context.request_id if context else None


def log_fields_add(**fields) -> None:
    """Add fields to the current request's access log line (ignored outside a request)."""
    context = current.get()
    if context is not None:
        context.fields.update(fields)


def user_id_of(request) -> int | None:
    """The request's user id if authentication already ran; never triggers a database query."""
    if request is None:
        return None
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


def current_user_id() -> int | None:
    context = current.get()
    return user_id_of(context.request) if context else None
