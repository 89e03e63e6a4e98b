"""Instructions per request: the app's CPU work on one ask, counted by callgrind, the same whatever else runs.

CPU seconds on this shared 2-vCPU machine move by a third from one run to the next (docs/performance.md),
so a 10% change needs many alternating runs to show. Valgrind's callgrind counts the instructions the
app executes instead: the same work gives the same count, loaded machine or not. It is not time (a cache
miss costs no more than a hit), so it says how much work a change adds, not how many milliseconds.

The tree's own benchmark stack (its bench/stack.py: PostgreSQL, Valkey, the OpenAI stand-in, the demo
content, production settings) serves one uvicorn process under callgrind, instrumented only while it
answers: `--warmup` requests first (imports, connections, caches filled), then the counters are zeroed,
`--requests` requests are sent one after another, and the counters are dumped. Prints the instructions
per request (the app's process, all its threads). `--tree` measures another checkout the same way (an
older commit in a git worktree, with its own .venv), so two versions can be compared on the same inputs.

    .venv/bin/python bench/instructions.py [--tree PATH] [--kind miss|exact|profile] [--requests 60] [--keep FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _request(port: int, method: str, path: str, token: str, body: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request(method, path, body=body.encode() if body else None, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response.status, content


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=600)


def _total(path: Path) -> int:
    """The Ir total of a callgrind dump."""
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (its .venv runs it)")
    parser.add_argument("--kind", choices=["miss", "exact", "profile"], default="miss")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="copy the callgrind dump here (for callgrind_annotate)")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree), str(tree / "bench")]
    os.chdir(tree)
    from load import miss_bodies  # the tree's own
    from stack import Stack

    stack = Stack.start(log=lambda message: print(f"[instructions] {message}", flush=True))
    app = None
    try:
        players = stack.players_create(4)
        port = _free_port()
        out = stack.workdir / "callgrind.out"
        env = {**os.environ, **stack.env, "PROMETHEUS_MULTIPROC_DIR": str(stack.workdir)}
        log = open(stack.workdir / "app.log", "wb")  # noqa: SIM115 - handed to the child
        try:
            app = subprocess.Popen(
                ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
                 str(tree / ".venv" / "bin" / "python"), "-m", "uvicorn", "config.asgi:application",
                 "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + 600
        while True:
            try:
                _request(port, "GET", "/healthz", players[0].token)
                break
            except OSError:
                if time.monotonic() > deadline or app.poll() is not None:
                    raise SystemExit((stack.workdir / "app.log").read_text()[-3000:]) from None
                time.sleep(1)
        bodies = miss_bodies(1000)
        fixed = next(bodies)[1]

        def send(n: int) -> None:
            token = players[0 if args.kind == "exact" else n % len(players)].token  # the exact cache is per player
            if args.kind == "profile":
                status, content = _request(port, "GET", "/auth/me", token)
            else:
                body = fixed if args.kind == "exact" else next(bodies)[1]
                status, content = _request(port, "POST", "/api/coach/ask", token, body)
            if status != 200:
                raise SystemExit(f"request answered {status}: {content[:300]!r}")
            answered = json.loads(content).get("cache") if args.kind != "profile" else None
            if n >= 1 and answered != {"miss": "none", "exact": "exact", "profile": None}[args.kind]:
                raise SystemExit(f"a {args.kind} request was answered from {answered!r}")

        for n in range(args.warmup):
            send(n)
        _control(app.pid, "--instr=on")
        _control(app.pid, "--zero")
        for n in range(args.requests):
            send(n)
        _control(app.pid, "--dump")
        dumps = sorted(stack.workdir.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
        total = _total(dumps[-1])
        if args.keep:
            shutil.copyfile(dumps[-1], args.keep)
        commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()  # fmt: skip
        result = {"tree": str(tree), "commit": commit, "kind": args.kind, "requests": args.requests,
                  "instructions_per_request": round(total / args.requests)}  # fmt: skip
        print(json.dumps(result))
        print(f"{args.kind}: {total / args.requests / 1e6:.2f} M instructions per request ({commit})")
        return 0
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(timeout=60)
            except subprocess.TimeoutExpired:
                app.kill()
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
