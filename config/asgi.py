"""ASGI entry point (uvicorn config.asgi:application)."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does before its handler

from config.handlers import PooledThreadsASGIHandler  # noqa: E402 - needs the settings configured above
from config.middleware import BodySizeLimitASGI  # noqa: E402


def _warm() -> None:
    """Load now, before this worker serves, what its first requests would otherwise load on the event
    loop, stalling every request in the worker meanwhile: the URLconf with every view's imports (the
    OpenAI SDK among them), the translation catalogues of each language (LocaleMiddleware activates
    one per request; ~6 ms for ko), and whatever each app's AppConfig.warm() loads (coach: the
    tokenizers of the plans' models and of the embedding model). A new worker's first asks took
    0.8-0.95 s without this, and cache probes timed out behind them."""
    from django.apps import apps
    from django.conf import settings
    from django.urls import get_resolver
    from django.utils.translation import trans_real

    get_resolver().url_patterns  # noqa: B018 - a cached property: reading it imports the URLconf
    for language, _name in settings.LANGUAGES:
        trans_real.translation(language)
    for app in apps.get_app_configs():
        if hasattr(app, "warm"):
            app.warm()


_warm()
django_application = PooledThreadsASGIHandler()
# What startup loaded lives as long as the worker: out of the collector's way, its full collections walk
# only what requests make (an exact hit counts 11% fewer instructions, bench/instructions.py).
gc.freeze()
# Oversized request bodies are refused before Django reads them (see BodySizeLimitASGI).
application = BodySizeLimitASGI(django_application)
