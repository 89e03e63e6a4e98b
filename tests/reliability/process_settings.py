"""Settings for the processes the reliability tests start (Celery workers, a uvicorn server): the test settings,
with the OpenAI key from the environment and the broker sweeping for abandoned messages every second
(production: about every 100 s, after CELERY_VISIBILITY_TIMEOUT)."""

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS, env

OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
