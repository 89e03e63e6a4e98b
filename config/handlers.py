"""Django's ASGI handler with its request threads kept from one request to the next.

Under ASGI, Django runs each request's synchronous work (the ORM, sync views and middleware, the
request signals) on a thread of the request's own (asgiref's ThreadSensitiveContext), which Django
starts for the request and joins after it: ~0.3 ms of CPU a request on these machines, for every
request (bench/README.md). Here a request takes an idle thread instead, as a WSGI server's threads
serve one request after another, and gives it back; asgiref's documented way to supply the executor
(ThreadSensitiveContext(executor=...)) does the rest. Django closes the request's database
connection when the request finishes (request_finished), on that thread, as it does under WSGI.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class ThreadKeepingASGIHandler(ASGIHandler):
    # Idle threads kept; more than this many requests in flight still get a thread each, and the
    # surplus ends with them. A busy worker has a few dozen at once (bench: c=64 over 2 workers).
    threads_kept = 64

    def __init__(self):
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # as Django's own: only HTTP
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < self.threads_kept:
                self._idle.append(executor)  # a call still running there (a client gone) runs first
            else:
                executor.shutdown(wait=False)
