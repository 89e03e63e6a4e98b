"""pytest plugin: the suite's own PostgreSQL+pgvector and Valkey+RediSearch, started before Django.

Loaded with `-p tests.embedded` (pyproject), it wraps pytest_load_initial_conftests so the servers
are up and DATABASE_URL / REDIS_URL point at them before pytest-django imports the settings. They
live in a temporary directory on free ports (never ./var/), stop at the end of the run, and die
with this process if it is killed (dev/embedded.py).
"""

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

# pyproject names config.settings.test, but pytest-django lets the environment win, and importing
# `config` (below, and the Celery app it loads) would set config.settings.local there first.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

_servers = []
_tmpdir: Path | None = None
_google = None


def _stop_all() -> None:
    global _tmpdir, _google
    while _servers:
        _servers.pop().stop()
    if _google is not None:
        _google.stop()
        _google = None
    if _tmpdir is not None:
        shutil.rmtree(_tmpdir, ignore_errors=True)
        _tmpdir = None


def _on_sigterm(signum, frame):
    _stop_all()
    sys.exit(128 + signum)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if "--help" not in args and "--version" not in args:
        if not os.environ.get("GC_TEST_EXTERNAL_SERVICES"):
            _start()
        _google_start()
    return (yield)


def _google_start() -> None:
    """Google's OAuth endpoints on loopback: allauth reads their URLs once, when its Google views are
    imported, so they are in the environment before the settings are."""
    global _google
    from tests.servers.google_certs import GoogleCertsServer

    _google = GoogleCertsServer().start()
    os.environ["GOOGLE_AUTHORIZE_URL"] = f"{_google.base_url}/o/oauth2/v2/auth"
    os.environ["GOOGLE_TOKEN_URL"] = f"{_google.base_url}/token"
    os.environ["GOOGLE_USERINFO_URL"] = f"{_google.base_url}/v1/userinfo"


def google_web_server():
    """The Google stand-in the settings' GOOGLE_*_URL point at (the staff web sign-in's tests)."""
    return _google


def _start() -> None:
    global _tmpdir
    from dev import embedded

    _tmpdir = Path(tempfile.mkdtemp(prefix="gamecoach-test-"))
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_sigterm)
    pg = embedded.postgres_start(_tmpdir / "pg", embedded.free_port(), fsync=False)
    _servers.append(pg)
    valkey = embedded.valkey_start(_tmpdir / "valkey", embedded.free_port(), persist=False)
    _servers.append(valkey)
    os.environ["DATABASE_URL"] = embedded.postgres_create_database(pg, "gamecoach")
    os.environ["REDIS_URL"] = valkey.url
    os.environ["CELERY_BROKER_URL"] = valkey.url.rsplit("/", 1)[0] + "/1"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_tmpdir / "tiktoken")


def pytest_unconfigure(config):
    _stop_all()


def embedded_servers() -> dict:
    """The running servers by name, for tests that stop and start them (fault injection)."""
    return {server.name: server for server in _servers}


def embedded_stop(name: str) -> None:
    """Stop one of the suite's servers ("postgres" or "valkey"), as an outage would."""
    embedded_servers()[name].stop()


def embedded_start(name: str):
    """Start a stopped server again on the same port with the same data directory; returns it."""
    from urllib.parse import urlparse

    from dev import embedded

    old = embedded_servers()[name]
    if old.process.poll() is None:
        return old
    port, datadir = urlparse(old.url).port, old.log_path.parent
    if name == "postgres":
        new = embedded.postgres_start(datadir, port, fsync=False)
    else:
        new = embedded.valkey_start(datadir, port, persist=False)
    _servers[_servers.index(old)] = new
    return new
