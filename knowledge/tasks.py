"""Celery tasks for the slow parts of indexing: summarising long pieces and embedding chunks, in batches."""

import logging

import openai
from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from .services import indexing

logger = logging.getLogger(__name__)

# Worth another try after a pause: the provider is busy or down, or the database blinked.
RETRYABLE = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
    OperationalError,
    InterfaceError,
)
_RETRY = {
    "acks_late": True,  # a worker killed mid-batch leaves the message for another; the work is idempotent
    "autoretry_for": RETRYABLE,
    "retry_backoff": 2,  # 2 s, 4 s, 8 s ... with jitter, at most 10 minutes apart
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": settings.KNOWLEDGE_TASK_MAX_RETRIES,
}


class ProviderQuotaExhausted(Exception):
    """The OpenAI account is out of credit (429 insufficient_quota): waiting does not help, so no retry."""


def _unless_out_of_credit(work, **kwargs):
    """Run the work with the provider's own error for autoretry_for to judge, unless waiting cannot help.

    summarize_chunk answers the ask's error (AIError, for players) raised from the provider's: that
    cause is what is retried, as an embedding's error is.
    """
    try:
        return work(**kwargs)
    except Exception as exc:
        cause = exc.__cause__
        error = cause if isinstance(cause, openai.OpenAIError) else exc
        if isinstance(error, openai.RateLimitError) and getattr(error, "code", None) == "insufficient_quota":
            raise ProviderQuotaExhausted(str(error)) from None
        if error is not exc and isinstance(error, RETRYABLE):
            raise error from None
        raise


class ChunkTask(Task):
    """Marks the documents of a batch that could not be indexed, once retries are exhausted."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        chunk_ids = kwargs.get("chunk_ids") or (args[0] if args else [])
        logger.error("knowledge task %s failed for chunks %s: %r", self.name, chunk_ids, exc)
        indexing.chunks_index_failed(chunk_ids=chunk_ids, error=f"{type(exc).__name__}: {exc}")


@shared_task(name="knowledge.chunks_embed", base=ChunkTask, **_RETRY)
def chunks_embed(chunk_ids: list[int]) -> int:
    return _unless_out_of_credit(indexing.chunks_embed, chunk_ids=chunk_ids)


@shared_task(name="knowledge.chunks_summarize", base=ChunkTask, **_RETRY)
def chunks_summarize(chunk_ids: list[int]) -> int:
    return _unless_out_of_credit(indexing.chunks_summarize, chunk_ids=chunk_ids)


@shared_task(
    name="knowledge.document_index_finish",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def document_index_finish(document_id: int) -> bool:
    return indexing.document_index_finish(document_id=document_id)


@shared_task(
    name="knowledge.upload_batch_ingest",
    acks_late=True,  # a worker lost mid-batch leaves it for another: done files stay done, the rest go on
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=5,
)
def upload_batch_ingest(batch_id: int) -> int:
    from . import uploads

    return uploads.upload_batch_ingest(batch_id=batch_id).pk
