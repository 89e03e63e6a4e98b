"""ASGI entry point (uvicorn config.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_application = get_asgi_application()

from config.middleware import BodySizeLimitASGI  # noqa: E402 - needs the settings configured above

# Oversized request bodies are refused before Django reads them (see BodySizeLimitASGI).
application = BodySizeLimitASGI(django_application)
