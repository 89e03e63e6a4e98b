"""The benchmark's own service stack: PostgreSQL, Valkey, the OpenAI stand-in and the real app under uvicorn.

Everything lives in a temporary directory on free loopback ports (dev/embedded.py, as the test
suite does), so a benchmark never touches ./var or a running `bin/run`. The app runs as uvicorn
worker processes with the production settings module (DEBUG off, secrets from the environment set
here), apart from plain HTTP on loopback. Players get a benchmark plan added by configuration
(PLANS_EXTRA_JSON, the mechanism production uses for a premium plan): the basic plan's model and
token limits with a call limit that a benchmark cannot use up, so every ask goes through the real
quota statement and never gets a 429. The rate limits (config/throttles.py) are raised the same
way: each ask still pays for their Redis calls, but all the load comes from one address.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BENCH_PLAN = "bench"
JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789abcdef"


def bench_plan_spec() -> dict:
    """The basic plan's model and limits, with calls no benchmark can spend."""
    from billing import plans

    model, fallback, selectable = plans.PLAN_MODELS["basic"]
    prompt_tokens, response_tokens = plans.PLAN_TOKEN_LIMITS["basic"]
    return {BENCH_PLAN: {"model": model, "fallback_model": fallback, "selectable_models": list(selectable),
                         "prompt_tokens": prompt_tokens, "response_tokens": response_tokens,
                         "calls": 1_000_000_000, "period": "week", "rank": 1000}}  # fmt: skip


@dataclass
class Player:
    user_id: int
    token: str


@dataclass
class Stack:
    """Started with Stack.start(); stop() ends every process it started and removes its directory."""

    workdir: Path
    env: dict[str, str]
    servers: list = field(default_factory=list)  # dev.embedded.EmbeddedServer
    llm: subprocess.Popen | None = None
    llm_delay: float | None = None
    app: subprocess.Popen | None = None
    app_port: int = 0
    app_workers: int = 0
    players: list[Player] = field(default_factory=list)

    # --- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def start(cls, *, log=print) -> Stack:
        """Databases and the OpenAI stand-in up, migrated, the demo content loaded and embedded through it."""
        sys.path.insert(0, str(ROOT))
        from dev import embedded

        workdir = Path(tempfile.mkdtemp(prefix="gamecoach-bench-"))
        stack = cls(workdir=workdir, env={})
        try:
            log(f"starting PostgreSQL and Valkey in {workdir}")
            pg = embedded.postgres_start(workdir / "pg", embedded.free_port(), fsync=False)
            stack.servers.append(pg)
            valkey = embedded.valkey_start(workdir / "valkey", embedded.free_port(), persist=False)
            stack.servers.append(valkey)
            stack.env = {
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DJANGO_SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789abcdef",
                "JWT_SECRET": JWT_SECRET,
                "JWT_ACCESS_MINUTES": "600",
                "DATABASE_URL": embedded.postgres_create_database(pg, "gamecoach"),
                "REDIS_URL": valkey.url,
                "CELERY_BROKER_URL": valkey.url.rsplit("/", 1)[0] + "/1",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS ends at the proxy
                "TIKTOKEN_CACHE_DIR": str(workdir / "tiktoken"),  # filled from bpe-openai, offline
                "PLANS_EXTRA_JSON": json.dumps(bench_plan_spec()),
                "LOG_LEVEL": "INFO",
                # The rate limits stay in the path (three Redis calls per ask) but cannot refuse a
                # benchmark whose every request comes from 127.0.0.1.
                "THROTTLE_IP_RATE": "100000000/min",
                "THROTTLE_USER_RATE": "100000000/min",
                "THROTTLE_ASK_RATE": "100000000/min",
            }
            os.environ.update(stack.env)
            stack.llm_start()
            stack._setup_django()
            return stack
        except BaseException:
            stack.stop()
            raise

    def _setup_django(self) -> None:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from dev.demo.loader import demo_load

        demo_load()
        from django.db import connections

        connections.close_all()

    def stop(self) -> None:
        self.app_stop()
        self.llm_stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may never have been set up
            pass
        while self.servers:
            self.servers.pop().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- players --------------------------------------------------------------------------------
    def players_create(self, count: int) -> list[Player]:
        """`count` players on the benchmark plan, each with an access token (JWT, as the app sends)."""
        from django.db import connections
        from rest_framework_simplejwt.tokens import AccessToken

        from accounts.models import User
        from billing.models import Subscription

        start = len(self.players)
        users = User.objects.bulk_create(
            [User(username=f"bench-{start + n}", display_name=f"Bench {start + n}") for n in range(count)]
        )
        Subscription.objects.bulk_create([Subscription(user=user, plan=BENCH_PLAN, store="promotional")
                                          for user in users])  # fmt: skip
        self.players += [Player(user.pk, str(AccessToken.for_user(user))) for user in users]
        connections.close_all()
        return self.players[start:]

    # --- the OpenAI stand-in ----------------------------------------------------------------------
    def llm_start(self) -> None:
        self.llm = subprocess.Popen([PYTHON, str(ROOT / "bench" / "llm_server.py")],
                                    cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
                                    preexec_fn=_die_with_parent)  # fmt: skip
        line = self.llm.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"the OpenAI stand-in did not start: {line!r}")
        self.llm_delay = 0.0
        base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"
        self.env.update({"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": base_url})
        os.environ.update({"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": base_url})

    def llm_delay_set(self, delay: float) -> None:
        """How long the model takes to answer from now on (the running app needs no restart)."""
        self.llm.stdin.write(f"delay {delay}\n")
        self.llm.stdin.flush()
        if self.llm.stdout.readline().strip() != "ok":
            raise RuntimeError("the OpenAI stand-in did not take the new delay")
        self.llm_delay = delay

    def llm_stop(self) -> None:
        if self.llm is not None:
            self.llm.stdin.close()
            try:
                self.llm.wait(10)
            except subprocess.TimeoutExpired:
                self.llm.kill()
                self.llm.wait()
            self.llm = None
            self.llm_delay = None

    # --- the app ------------------------------------------------------------------------------
    def app_start(self, *, workers: int = 2, extra_env: dict | None = None, http: str | None = None) -> str:
        """uvicorn config.asgi:application with `workers` processes; returns its base URL."""
        from dev import embedded

        self.app_stop()
        self.app_port = embedded.free_port()
        self.app_workers = workers
        env = {**os.environ, **self.env, **(extra_env or {})}
        metrics_dir = self.workdir / f"metrics-{self.app_port}"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # as production runs several workers
        log = open(self.workdir / "app.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.app = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                 "--port", str(self.app_port), "--workers", str(workers), "--no-access-log",
                 "--backlog", "4096", "--timeout-keep-alive", "30", *(["--http", http] if http else [])],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )  # fmt: skip
        finally:
            log.close()
        url = f"http://127.0.0.1:{self.app_port}"
        self._wait_ready(url)
        return url

    def _wait_ready(self, url: str, timeout: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            if self.app.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.app.returncode}:\n{self.app_log_tail()}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200 and len(self.app_worker_pids()) >= self.app_workers:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not become healthy:\n{self.app_log_tail()}")
            time.sleep(0.1)

    def app_log_tail(self, chars: int = 3000) -> str:
        path = self.workdir / "app.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def app_worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's workers (or uvicorn itself with one worker)."""
        if self.app is None:
            return []
        try:
            parent = psutil.Process(self.app.pid)
            if self.app_workers == 1:
                return [parent.pid]
            # uvicorn's supervisor also starts multiprocessing's resource tracker: not a worker
            return [child.pid for child in parent.children()
                    if "resource_tracker" not in " ".join(child.cmdline())]  # fmt: skip
        except psutil.Error:
            return []

    def app_stop(self) -> None:
        if self.app is not None:
            if self.app.poll() is None:
                self.app.send_signal(signal.SIGTERM)
                try:
                    self.app.wait(20)
                except subprocess.TimeoutExpired:
                    self.app.kill()
                    self.app.wait()
            self.app = None

    # --- what the processes cost ----------------------------------------------------------------
    def process_groups(self) -> dict[str, list[int]]:
        """Process ids by role, for CPU and memory accounting."""
        groups = {"app": self.app_worker_pids()}
        for server in self.servers:
            try:
                proc = psutil.Process(server.process.pid)
                groups[server.name] = [proc.pid] + [child.pid for child in proc.children(recursive=True)]
            except psutil.Error:
                groups[server.name] = []
        groups["llm"] = [self.llm.pid] if self.llm else []
        return groups

    def redis(self):
        import redis

        return redis.Redis.from_url(self.env["REDIS_URL"])

    def pg_connections(self) -> int:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out.append(round(psutil.Process(pid).memory_info().rss / 2**20, 1))
    return out


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """User + system CPU seconds used so far by each group's processes (with their reaped children), by pid."""
    out: dict[str, dict[int, float]] = {}
    for name, pids in groups.items():
        out[name] = {}
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                out[name][pid] = times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                pass
    return out


def cpu_spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each group used between two cpu_seconds() readings. A process that started in between (a
    PostgreSQL backend for a new pooled connection) counts whole; one that ended in between was reaped by a
    parent in its group (the postmaster), whose children's times now hold all of its CPU, so what it had
    used before is taken off again."""
    spent = {}
    for name, now in after.items():
        then = before.get(name, {})
        spent[name] = sum(cpu - then.get(pid, 0.0) for pid, cpu in now.items()) - sum(
            cpu for pid, cpu in then.items() if pid not in now
        )
    return spent
