"""Celery hooks (config/celery.py imports this): the service's own logging in workers, task outcome metrics."""

from __future__ import annotations

import logging.config
import time

from celery import signals

from .metrics import celery_task_duration, celery_tasks, label_value

_task_started: dict[str, float] = {}


@signals.setup_logging.connect(weak=False)
def _logging_setup(**kwargs) -> None:
    # Answering this signal stops Celery from installing its own plain-text handlers.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _task_name(sender) -> str:
    return label_value(getattr(sender, "name", sender), limit=100)


@signals.task_prerun.connect(weak=False)
def _on_task_prerun(sender=None, task_id=None, **kwargs) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


@signals.task_postrun.connect(weak=False)
def _on_task_postrun(sender=None, task_id=None, **kwargs) -> None:
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        celery_task_duration.labels(_task_name(sender)).observe(time.monotonic() - started)


@signals.task_success.connect(weak=False)
def _on_task_success(sender=None, **kwargs) -> None:
    celery_tasks.labels(_task_name(sender), "success").inc()


@signals.task_failure.connect(weak=False)
def _on_task_failure(sender=None, **kwargs) -> None:
    celery_tasks.labels(_task_name(sender), "failure").inc()


@signals.task_retry.connect(weak=False)
def _on_task_retry(sender=None, **kwargs) -> None:
    celery_tasks.labels(_task_name(sender), "retry").inc()
