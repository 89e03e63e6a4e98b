"""`bin/run`: the whole service on one machine with no Docker.

Starts PostgreSQL+pgvector and Valkey+RediSearch (unless DATABASE_URL / REDIS_URL are set) with
their data under ./var/, migrates, loads the demo data (with --no-demo only the demo logins), then
runs a Celery worker, Celery beat and the ASGI server on 127.0.0.1:8000. Ctrl-C stops every process
it started; the data stays.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable


def _say(message: str) -> None:
    print(f"\033[1m[run]\033[0m {message}", flush=True)


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True, text=True,
                            capture_output=capture)  # fmt: skip
    return result.stdout if capture else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/run", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--no-demo", action="store_true", help="do not load the demo games and guides (the demo logins still are)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from dev import embedded

    servers: list[embedded.EmbeddedServer] = []
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum=None, frame=None):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        _say("stopping...")
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        for server in reversed(servers):
            server.stop()
        _say("stopped; data kept in ./var/")

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if not os.environ.get("DATABASE_URL"):
            port = int(os.environ.get("EMBEDDED_PG_PORT", "54329"))
            _say(f"starting PostgreSQL 18 + pgvector on 127.0.0.1:{port} (data in var/pg)")
            pg = embedded.postgres_start(VAR_DIR / "pg", port)
            servers.append(pg)
            os.environ["DATABASE_URL"] = embedded.postgres_create_database(pg, "gamecoach")
        if not os.environ.get("REDIS_URL"):
            port = int(os.environ.get("EMBEDDED_REDIS_PORT", "63799"))
            _say(f"starting Valkey 8 + RediSearch on 127.0.0.1:{port} (data in var/redis)")
            servers.append(embedded.valkey_start(VAR_DIR / "redis", port))
            os.environ["REDIS_URL"] = servers[-1].url

        _say("migrating")
        _manage("migrate", "--noinput", "-v", "0")
        if args.no_demo:
            _say("demo logins only (--no-demo)")
            _manage("demo_setup", "--no-knowledge")
        else:
            _say("loading demo data")
            _manage("demo_setup")
        token = _manage("demo_token", capture=True).strip()

        host, web_port = "127.0.0.1", os.environ.get("PORT", "8000")
        venv_bin = Path(PYTHON).parent
        commands: list[list[str | Path]] = [
            [venv_bin / "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2", "-n", "dev@%h"],
            [venv_bin / "celery", "-A", "config", "beat", "-l", "info"],
            [venv_bin / "uvicorn", "config.asgi:application", "--host", host, "--port", web_port,
             "--workers", os.environ.get("WEB_CONCURRENCY", "1"), "--http", "config.server:HTTPProtocol",
             "--no-access-log"],
        ]  # fmt: skip
        for command in commands:
            children.append(
                subprocess.Popen(command, cwd=BASE_DIR, preexec_fn=embedded._die_with_parent(signal.SIGTERM))
            )
        embedded._wait_for_port(int(web_port), children[-1], Path("/dev/null"))

        base = f"http://{host}:{web_port}"
        _say("ready. Try:")
        print(f"""
  curl {base}/readyz
  export TOKEN={token}
  curl -H "Authorization: Bearer $TOKEN" {base}/auth/me
  curl -H "Authorization: Bearer $TOKEN" {base}/api/games
  curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d '{{"game": "elden-ring", "question": "말레니아 2페이즈 어떻게 피해요?"}}' {base}/api/coach/ask
  open {base}/admin/  (user: admin, password: admin)   {base}/api/docs/

Ctrl-C stops everything.""", flush=True)  # fmt: skip
        while not stopping:
            for command, child in zip(commands, children, strict=True):
                if child.poll() is not None:
                    _say(f"{Path(command[0]).name} exited with {child.returncode}")
                    stop()
                    return 1
            time.sleep(0.5)
        return 0
    except BaseException:
        stop()
        raise


if __name__ == "__main__":
    sys.exit(main())
