"""The test suite: differs from local by the least possible (tests.embedded supplies the servers)."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
OPENAI_API_KEY = ""  # tests that speak to an OpenAI-compatible server set it themselves
