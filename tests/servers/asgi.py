"""The project's own ASGI app served by uvicorn on loopback in a thread, for tests that need a real server.

Streaming, client disconnects and concurrency only behave as in production over a real connection.
Use with transactional tests (django_db(transaction=True)): the server's threads have their own
database connections and see only committed rows.
"""

import threading
import time

import uvicorn

from dev.embedded import free_port


class AsgiServer:
    def __init__(self):
        from config.asgi import application  # what production serves, the body-size guard included

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(application, host="127.0.0.1", port=self.port, lifespan="on",
                                log_level="warning", access_log=False)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="asgi-test-server")

    def __enter__(self) -> "AsgiServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(10)
