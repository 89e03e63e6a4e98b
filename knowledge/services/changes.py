"""Telling whoever keeps things built from a document's text that the document changed, once committed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

# Whatever keeps things built from a document's text (coach's semantic cache) subscribes here from its
# AppConfig.ready, and is told once a change to the document has committed: knowledge knows nothing of it.
DocumentChanged = Callable[..., object]  # called as callback(document_id=...)
_document_changed_subscribers: list[DocumentChanged] = []


def document_changed_subscribe(callback: DocumentChanged) -> None:
    """callback(document_id=...) runs after each commit that changes what the document says or who sees it."""
    if callback not in _document_changed_subscribers:
        _document_changed_subscribers.append(callback)


def _document_changed_on_commit(*, document_id: int) -> None:
    transaction.on_commit(lambda: document_changed_notify(document_id=document_id))


def document_changed_notify(*, document_id: int) -> None:
    for callback in list(_document_changed_subscribers):
        try:
            callback(document_id=document_id)
        except Exception:  # the curator's edit is committed; a failure is reported, cached answers expire by TTL
            name = getattr(callback, "__qualname__", callback)
            logger.exception("%s failed for changed document %s", name, document_id)
