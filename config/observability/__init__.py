"""Observability: request ids and JSON logs (logs.py), Prometheus metrics (metrics.py, views.py), their middleware.

For other code: request_id_get() is the current request's id, and log_fields_add(**fields) adds
fields (the ask's stage timings, say) to the request's one access log line. Any log record emitted
while a request is served carries its request_id and user_id on its own.
"""

from .context import log_fields_add, request_id_get

__all__ = ["log_fields_add", "request_id_get"]
