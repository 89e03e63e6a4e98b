"""config.server.HTTPProtocol: uvicorn with a pre-bound listening socket (what --workers N does) keeps TCP_NODELAY."""

import socket
import threading
import time

import pytest
import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from config.server import HTTPProtocol


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _server_side_nodelay(protocol_class, loop: str = "asyncio") -> int:
    """Serve one keep-alive request on a socket bound as uvicorn's supervisor binds it (proto 0); the
    TCP_NODELAY option of the connection's server side."""
    listener = socket.socket(family=socket.AF_INET)  # as uvicorn's Config.bind_socket() makes it
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_app, http=protocol_class, loop=loop, lifespan="off", log_config=None,
                                           access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        with socket.create_connection(listener.getsockname()) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
            (connection,) = server.server_state.connections
            return connection.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.should_exit = True
        thread.join(10)


def test_uvicorns_own_protocol_leaves_nagle_on_for_a_pre_bound_socket_on_asyncios_loop():
    # the defect config.server works around (uvicorn issue #3149): each keep-alive answer waits ~40 ms
    # (uvloop, which uvicorn uses when installed, sets TCP_NODELAY itself)
    assert _server_side_nodelay(AutoHTTPProtocol, loop="asyncio") == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_projects_protocol_turns_tcp_nodelay_on_for_every_connection(loop):
    assert _server_side_nodelay(HTTPProtocol, loop=loop) == 1
