"""Settings for the Celery worker a test starts: the test settings, with the OpenAI key from the environment."""

from config.settings.test import *  # noqa: F403
from config.settings.test import env

OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
