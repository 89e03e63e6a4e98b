"""ASGI entry point (uvicorn config.asgi:application)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does

from config.handlers import ThreadKeepingASGIHandler  # noqa: E402 - needs the apps loaded above
from config.middleware import BodySizeLimitASGI  # noqa: E402

django_application = ThreadKeepingASGIHandler()
# Oversized request bodies are refused before Django reads them (see BodySizeLimitASGI).
application = BodySizeLimitASGI(django_application)
