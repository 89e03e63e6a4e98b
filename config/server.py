"""How uvicorn serves the app: its HTTP protocol with TCP_NODELAY on every connection.

`uvicorn --workers N` (and gunicorn's uvicorn worker) bind the listening socket themselves with
proto 0, and asyncio only turns TCP_NODELAY on for accepted sockets that report IPPROTO_TCP. So
Nagle's algorithm stays on, and every response on a keep-alive connection after the first waits
about 40 ms for the client's delayed ACK (uvicorn issue #3149).
A single-worker uvicorn is not affected, nor is uvloop (installed, so uvicorn's `--loop auto` picks
it), which sets TCP_NODELAY on every TCP socket itself; this keeps asyncio's loop (`--loop asyncio`)
right too. Use: `uvicorn ... --http config.server:HTTPProtocol`.
"""

import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


# uvicorn picks AutoHTTPProtocol at import (httptools' or h11's class) and declares it a variable of
# type[asyncio.Protocol], which mypy cannot take as a base class.
class HTTPProtocol(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's own protocol (httptools when installed, else h11), with Nagle off for TCP peers."""

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
