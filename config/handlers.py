"""Django's ASGI handler, with each request's worker thread taken from a pool instead of started anew.

Django runs every request in a ThreadSensitiveContext, so that the request's sync work (the ORM,
signals, sync middleware) happens on one thread of its own. With a bare context asgiref starts that
thread at the request's first sync call and, when the request ends, starts a second thread to join
it: two thread starts per request (about a fifth of an exact hit's CPU, docs/performance.md). asgiref
lets the caller hand the context an executor it owns instead; this handler keeps the idle ones.

An executor serves one request at a time, as before. When the request ends its thread is free:
Django's last step is the response's close() on that thread, which waits for any sync call still
running there (asgiref waits for a sync call even when its caller is cancelled), and asgiref
refuses thread-sensitive calls made after the context has exited.
"""

from __future__ import annotations

import collections
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.apps import apps
from django.core.handlers.asgi import ASGIHandler

logger = logging.getLogger(__name__)

# Idle request threads kept per process; more than this many finishing at once are shut down.
IDLE_THREADS_MAX = 64


class PooledThreadsASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.idle: collections.deque[ThreadPoolExecutor] = collections.deque()
        self._numbers = itertools.count(1)  # thread names request-1, request-2...: one per executor

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":  # Django's own answer: HTTP only
            return await super().__call__(scope, receive, send)
        try:
            executor = self.idle.pop()
        except IndexError:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{next(self._numbers)}")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self.idle) < IDLE_THREADS_MAX:
                self.idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def _lifespan(self, receive, send) -> None:
        """ASGI lifespan. Nothing to do at startup (config.asgi warms the worker before it serves). At
        shutdown each app's `aclose()`, when it has one, closes what it opened on this event loop (coach:
        the OpenAI SDK's aiohttp sessions, which aiohttp reports as unclosed when the collector finds them)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for app in apps.get_app_configs():
                    if hasattr(app, "aclose"):
                        try:
                            await app.aclose()
                        except Exception:  # the worker stops anyway; the others still close theirs
                            logger.exception("%s: closing at shutdown failed", app.label)
                await send({"type": "lifespan.shutdown.complete"})
                return
