"""The test suite: differs from local by the least possible (tests.embedded supplies the servers)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
OPENAI_API_KEY = ""  # tests that speak to an OpenAI-compatible server set it themselves
# e5 embeds a chunk in a few hundred ms of CPU: the suite ingests thousands, so it uses the hashed
# n-grams, and the tests of e5 and of cross-language retrieval switch to it (tests/knowledge/test_e5.py).
OFFLINE_EMBEDDER = env("OFFLINE_EMBEDDER", default="hash")
