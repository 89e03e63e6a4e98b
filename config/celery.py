"""The Celery app; its broker is Redis (REDIS_URL) and beat reads its schedule from the database."""

import os

from celery import Celery

from config.observability import worker as _observability  # noqa: F401 - worker logging, task metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("gamecoach")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
