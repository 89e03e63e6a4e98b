"""ASGI entry point (uvicorn config.asgi:application)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does before its handler

from config.handlers import PooledThreadsASGIHandler  # noqa: E402 - needs the settings configured above
from config.middleware import BodySizeLimitASGI  # noqa: E402

django_application = PooledThreadsASGIHandler()
# Oversized request bodies are refused before Django reads them (see BodySizeLimitASGI).
application = BodySizeLimitASGI(django_application)
