"""The benchmark runner: the ask path, the caches, retrieval and ingestion, measured on this machine.

    bin/bench                       # everything, about 21 minutes
    bin/bench --quick               # the same scenarios, shorter and smaller, about 5 minutes
    bin/bench --only overhead,slow  # some scenarios (overhead, slow, retrieval, semantic, ingest, stats, quality,
                                    # instructions)
    bin/bench --compare bench/results/baseline.json
    .venv/bin/python bench/run.py --smoke   # seconds; what tests/bench runs so this keeps working

It starts its own PostgreSQL + pgvector and Valkey + RediSearch in a temporary directory, the
OpenAI-compatible server the tests use (its own process, a configurable delay per answer), and the
real app under uvicorn as separate worker processes with the production settings module. A
closed-loop load generator (bench/load.py, its own process) sends the requests. Every number is
the median of repeated runs, with the spread (min-max); a table is printed and the whole result
is written to bench/results/<timestamp>.json (--compare prints ratios against a saved one).

Scenarios (issue 8): 1 overhead (miss, exact-cache hits, semantic-cache hits at concurrency 1, 16,
64, the LLM answering at once; plus 1 vs 2 workers), 2 slow (the LLM takes 1 s; concurrency 50,
200, 500), 3 retrieval (bench/retrieval.py), 4 semantic (bench/semantic_cache.py), 5 ingest
(bench/ingest.py), 6 memory (per worker, idle and under scenario 2), the operations stats
(bench/stats.py), answer quality (bench/quality.py, the full run only: it embeds its library with
e5), and the instructions per request of a miss, an exact hit and the control (bench/instructions.py,
with valgrind; about 2 minutes). The rate limits and the plan quota stay in the path but are raised
so that a benchmark cannot hit them (see bench/stack.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from stack import Stack, cpu_seconds, cpu_spent, rss_mb  # noqa: E402

SCENARIOS = ("overhead", "slow", "retrieval", "semantic", "ingest", "stats", "quality", "instructions")
ASK = ("POST", "/api/coach/ask")
# Scenario 1's kinds. "profile" is no ask: GET /auth/me (the player's profile and plan usage), the
# app's simplest signed-in request, through the same uvicorn, Django, middleware, DRF and token check
# (the token's user read, then three small queries, in one trip to a worker thread). What the stack
# costs a request before an ask does anything: an exact hit adds a Valkey read and a log row's insert
# and does one query where this does four.
KINDS = ("profile", "miss", "exact", "semantic")
PROFILE_READ = ("GET", "/auth/me")
PROFILES = {
    "full": {
        "concurrency": (1, 16, 64), "repeats": 3, "duration": 5.0, "warmup": 1.0, "workers_compare": True,
        "slow_concurrency": (50, 200, 500), "slow_duration": 30.0, "slow_warmup": 3.0, "slow_delay": 1.0,
        "slow_repeats": 3, "players": 1000, "exact_pairs": 300, "semantic_questions": 60, "ingest_chunks": 10_000,
        "ingest_repeats": 3, "retrieval": {"rows": 100_000, "queries": 100}, "semantic": True,
        "stats": {"rows": 200_000, "runs": 3}, "quality": True, "instructions": True,
    },
    "quick": {
        "concurrency": (1, 16, 64), "repeats": 2, "duration": 2.0, "warmup": 0.5, "workers_compare": True,
        "slow_concurrency": (50, 200, 500), "slow_duration": 8.0, "slow_warmup": 2.0, "slow_delay": 1.0,
        "slow_repeats": 2, "players": 1000, "exact_pairs": 300, "semantic_questions": 60, "ingest_chunks": 2_000,
        "ingest_repeats": 1, "retrieval": {"rows": 20_000, "queries": 30}, "semantic": True, "stats": None,
        "quality": False, "instructions": True,
    },
    "smoke": {
        "concurrency": (1, 4), "repeats": 1, "duration": 0.6, "warmup": 0.2, "workers_compare": False,
        "slow_concurrency": (8,), "slow_duration": 1.0, "slow_warmup": 0.3, "slow_delay": 0.2,
        "slow_repeats": 1, "players": 40, "exact_pairs": 10, "semantic_questions": 5, "ingest_chunks": 40,
        "ingest_repeats": 1, "retrieval": None, "semantic": False, "stats": None, "quality": False,
        "instructions": False,
    },
}  # fmt: skip
# The app's instructions per request at the simplification issue's baseline (f7a0ca3), counted by
# bench/instructions.py on 2026-12-07 (docs/performance.md); a miss may do at most 15% more.
INSTRUCTIONS_BASELINE = {"miss": 23.57e6, "exact": 8.99e6, "profile": 15.33e6}
# uvicorn's HTTP protocol with TCP_NODELAY on every connection (config/server.py explains why).
DEFAULT_HTTP = "config.server:HTTPProtocol"


def say(message: str) -> None:
    print(f"\033[1m[bench]\033[0m {message}", flush=True)


# --- the machine ----------------------------------------------------------------------------------
def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- one measured run -----------------------------------------------------------------------------
def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq + getattr(times, "steal", 0.0)


class Sampler(threading.Thread):
    """RSS of the app's workers and PostgreSQL connections, once a second while a run lasts."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.rss: dict[int, float] = {}
        self.pg_max = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self.sample()

    def sample(self) -> None:
        for pid, mb in zip(self.stack.app_worker_pids(), rss_mb(self.stack.app_worker_pids()), strict=False):
            self.rss[pid] = max(self.rss.get(pid, 0.0), mb)
        with contextlib.suppress(Exception):  # a sample lost to a busy server is not a result
            self.pg_max = max(self.pg_max, self.stack.pg_connections())

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def load_run(stack: Stack, url: str, source: dict, *, concurrency: int, duration: float, warmup: float,
             client: str = "raw", sample: bool = False, request: tuple[str, str] = ASK) -> dict:  # fmt: skip
    """One run of bench/load.py against the app (`request`: method and path), with the CPU every process
    spent on it."""
    spec = {"url": url, "tokens": [p.token for p in stack.players], "concurrency": concurrency,
            "duration": duration, "warmup": warmup, "timeout": 60, "source": source, "client": client,
            "method": request[0], "path": request[1]}  # fmt: skip
    groups = stack.process_groups()
    sampler = Sampler(stack) if sample else None
    if sampler:
        sampler.start()
    cpu_before, busy_before = cpu_seconds(groups), _busy_seconds()
    process = subprocess.run([PYTHON, str(ROOT / "bench" / "load.py")], input=json.dumps(spec),
                             capture_output=True, text=True, timeout=duration + warmup + 120)  # fmt: skip
    cpu_after, busy_after = cpu_seconds(stack.process_groups()), _busy_seconds()
    if sampler:
        sampler.stop()
    if process.returncode:
        raise RuntimeError(f"the load generator failed:\n{process.stderr[-3000:]}")
    result = json.loads(process.stdout)
    sent = max(1, result["sent"])
    ours = cpu_spent(cpu_before, cpu_after)
    ours["client"] = result["client_cpu_s"]
    result["cpu_ms_per_request"] = {name: round(seconds * 1000 / sent, 2) for name, seconds in ours.items()}
    elapsed = duration + warmup
    other = (busy_after - busy_before) - sum(ours.values())
    result["other_cpu_pct"] = round(max(0.0, other) * 100 / (elapsed * (os.cpu_count() or 1)), 1)
    workers = cpu_after["app"]
    shares = [workers[pid] - cpu_before["app"].get(pid, 0.0) for pid in workers]
    result["worker_cpu_share"] = [round(s / sum(shares), 2) for s in shares] if sum(shares) > 0 else []
    if sampler:
        result["rss_mb_max"] = sorted(sampler.rss.values())
        result["pg_connections_max"] = sampler.pg_max
    return result


def summarise(runs: list[dict]) -> dict:
    """Medians over repeated runs, and the spread of p50 and req/s."""

    def med(key):
        return round(statistics.median(r[key] for r in runs), 2)

    cache: dict[str, int] = {}
    for run in runs:
        for kind, count in run["cache"].items():
            cache[kind] = cache.get(kind, 0) + count
    cpu_keys = runs[0]["cpu_ms_per_request"].keys()
    summary = {
        "runs": len(runs),
        "p50_ms": med("p50_ms"), "p95_ms": med("p95_ms"), "p99_ms": med("p99_ms"), "rps": med("rps"),
        "p50_spread": [min(r["p50_ms"] for r in runs), max(r["p50_ms"] for r in runs)],
        "rps_spread": [min(r["rps"] for r in runs), max(r["rps"] for r in runs)],
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "cache": cache,
        "cpu_ms_per_request": {k: round(statistics.median(r["cpu_ms_per_request"][k] for r in runs), 2)
                               for k in cpu_keys},
        "other_cpu_pct": max(r["other_cpu_pct"] for r in runs),
        "worker_cpu_share": runs[-1].get("worker_cpu_share", []),
        "failures": [f for r in runs for f in r["failures"]][:3],
    }  # fmt: skip
    if "rss_mb_max" in runs[-1]:  # the most any run saw: per worker, and PostgreSQL connections
        summary["rss_mb_max"] = [max(values) for values in zip(*(r["rss_mb_max"] for r in runs), strict=False)]
        summary["pg_connections_max"] = max(r["pg_connections_max"] for r in runs)
    return summary


# --- scenario 1: overhead ---------------------------------------------------------------------------
class Questions:
    """Where the next new question's number starts, so no two runs ever ask the same question."""

    def __init__(self):
        self.next = 1

    def take(self, used: int) -> int:
        start = self.next
        self.next += used + 1
        if self.next >= 1_000_000:  # the guard reads numbers at six significant digits (bench/load.py)
            raise RuntimeError("out of distinct question numbers")
        return start


def _miss(questions: Questions, estimate: int) -> dict:
    return {"kind": "miss", "seed": questions.take(estimate)}


def _exact_keys_clear(stack: Stack) -> int:
    client = stack.redis()
    deleted = 0
    for key in client.scan_iter(match="gc:coach:exact:*", count=1000):
        deleted += client.delete(key)
    return deleted


def scenario_overhead(stack: Stack, url: str, profile: dict, args, questions: Questions) -> dict:
    from load import miss_bodies

    out: dict = {kind: {} for kind in KINDS}
    repeats, duration, warmup = profile["repeats"], profile["duration"], profile["warmup"]
    players = len(stack.players)

    # exact hits: these players asked these questions a moment ago
    pairs = profile["exact_pairs"]
    bodies = miss_bodies(questions.take(pairs))
    exact_items = [[n % players, next(bodies)[1]] for n in range(pairs)]
    say(f"  exact-cache set: {pairs} players ask one question each")
    warm = load_run(stack, url, {"kind": "list", "items": exact_items}, concurrency=8,
                    duration=max(1.0, pairs / 30), warmup=0)  # fmt: skip
    out["exact_setup"] = {"cache": warm["cache"], "errors": warm["errors"]}

    # semantic hits: these questions were answered for others; each run asks them as new players, and
    # never one player the same question twice (that would be an exact hit): enough askers for the most
    # requests a run can send (800 a second)
    count = profile["semantic_questions"]
    semantic_sent_max = int((duration + warmup) * 800) + 50
    askers_needed = -(-semantic_sent_max // count)
    if players - count < askers_needed:
        stack.players_create(askers_needed + count - players)
        players = len(stack.players)
    seeders = list(range(players - count, players))
    bodies = miss_bodies(questions.take(count))
    semantic_questions = [next(bodies)[1] for _ in range(count)]
    say(f"  semantic-cache set: {count} questions answered once")
    seed_items = [[seeders[i], q] for i, q in enumerate(semantic_questions)]
    seeded = load_run(stack, url, {"kind": "list", "items": seed_items}, concurrency=4,
                      duration=max(1.0, count / 15), warmup=0)  # fmt: skip
    out["semantic_setup"] = {"cache": seeded["cache"], "errors": seeded["errors"]}
    askers = players - count

    def semantic_items(n_items: int) -> list:
        items = []
        for n in range(n_items):
            question = semantic_questions[n % count]
            asker = (n // count) % askers
            items.append([asker, question])
        return items

    for kind in KINDS:
        for concurrency in profile["concurrency"]:
            runs = []
            for _ in range(repeats):
                request = ASK
                if kind == "profile":
                    source, request = {"kind": "list", "items": [[n, ""] for n in range(players)]}, PROFILE_READ
                elif kind == "miss":
                    source = _miss(questions, int((duration + warmup) * 600))
                elif kind == "exact":
                    source = {"kind": "list", "items": exact_items}
                else:
                    _exact_keys_clear(stack)
                    source = {"kind": "list", "items": semantic_items(semantic_sent_max)}
                runs.append(load_run(stack, url, source, concurrency=concurrency, duration=duration, warmup=warmup,
                                     client=args.client, request=request))  # fmt: skip
            out[kind][str(concurrency)] = summary = summarise(runs)
            say(f"  {kind:<8} c={concurrency:<3} p50 {summary['p50_ms']:>7.2f} ms  p99 {summary['p99_ms']:>7.2f} ms  "
                f"{summary['rps']:>6.1f} req/s  errors {summary['errors']}  cache {summary['cache']}")  # fmt: skip
    return out


def scenario_workers(stack: Stack, profile: dict, args, questions: Questions) -> dict:
    """Miss path at concurrency 16 with 1 and with 2 uvicorn workers."""
    out = {}
    for workers in (1, 2):
        url = stack.app_start(workers=workers, extra_env=args.app_env, http=args.http)
        load_run(stack, url, _miss(questions, 2000), concurrency=8, duration=1.0, warmup=0.5)  # warm
        runs = [load_run(stack, url, _miss(questions, int((profile["duration"] + profile["warmup"]) * 600)),
                         concurrency=16, duration=profile["duration"], warmup=profile["warmup"],
                         client=args.client)
                for _ in range(profile["repeats"])]  # fmt: skip
        out[str(workers)] = summary = summarise(runs)
        say(f"  workers={workers} miss c=16: p50 {summary['p50_ms']:.2f} ms, {summary['rps']:.1f} req/s, "
            f"CPU/request {summary['cpu_ms_per_request']}")  # fmt: skip
    return out


# --- scenario 2: slow LLM ---------------------------------------------------------------------------
def scenario_slow(stack: Stack, url: str, profile: dict, args, questions: Questions) -> dict:
    delay = profile["slow_delay"]
    stack.llm_delay_set(delay)
    out = {"delay_s": delay, "by_concurrency": {}}
    try:
        for concurrency in profile["slow_concurrency"]:
            estimate = int(concurrency / delay * (profile["slow_duration"] + profile["slow_warmup"]) * 1.2) + 100
            runs = [load_run(stack, url, _miss(questions, estimate), concurrency=concurrency,
                             duration=profile["slow_duration"], warmup=profile["slow_warmup"],
                             client=args.client, sample=True)
                    for _ in range(profile["slow_repeats"])]  # fmt: skip
            summary = summarise(runs)
            summary["ideal_rps"] = round(concurrency / delay, 1)
            summary["throughput_ratio"] = round(summary["rps"] / (concurrency / delay), 3)
            out["by_concurrency"][str(concurrency)] = summary
            say(f"  slow c={concurrency:<3} {summary['rps']:>6.1f} req/s {summary['rps_spread']} "
                f"({summary['throughput_ratio']:.0%} of "
                f"c/{delay:g}s)  p50 {summary['p50_ms']:.0f} p99 {summary['p99_ms']:.0f} ms  errors "
                f"{summary['errors']}  RSS {summary.get('rss_mb_max')} MB  PG connections "
                f"{summary.get('pg_connections_max')}")  # fmt: skip
    finally:
        stack.llm_delay_set(0.0)
    return out


# --- scenarios 3, 4 and the stats: the other helpers' benchmarks -----------------------------------
# The environment as the runner found it: bench/stack.py points this process's at its own servers,
# and the other benchmarks start their own.
_ENV_AT_START = dict(os.environ)


def _child(command: list[str], log_path: Path, timeout: float) -> tuple[int, str]:
    env = dict(_ENV_AT_START)
    started = time.monotonic()
    try:
        process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        output, code = process.stdout + process.stderr, process.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = f"{exc.stdout or ''}{exc.stderr or ''}\n[timed out after {timeout:.0f} s]", -1
    log_path.write_text(output)
    return code, output + f"\n[{time.monotonic() - started:.0f} s]"


def scenario_retrieval(options: dict, log_dir: Path) -> dict:
    command = [PYTHON, "bench/retrieval.py", "--rows", str(options["rows"]), "--queries", str(options["queries"])]
    code, output = _child(command, log_dir / "retrieval.log", timeout=1500)
    result: dict = {"command": " ".join(command[1:]), "exit": code, "log": str(log_dir / "retrieval.log")}
    match = re.search(r"wrote (bench/results/retrieval-\S+\.json)", output)
    if match:
        report = json.loads((ROOT / match.group(1)).read_text())
        result["json"] = match.group(1)
        result["settings"] = report.get("settings")
        result["build"] = report.get("build")
        result["auto"] = [{k: row.get(k) for k in ("filter", "queries", "recall_at_5", "p50_ms", "p95_ms", "paths")}
                          for row in report["results"] if row.get("plan") == "auto"]  # fmt: skip
        result["baseline"] = [{k: row.get(k) for k in ("filter", "queries", "recall_at_5", "p95_ms")}
                              for row in report["results"] if row.get("plan") == "baseline"]  # fmt: skip
        result["extra"] = {k: v for k, v in report.items() if k not in ("results", "settings", "build")}
    result["table"] = _table_from(output)
    return result


def scenario_semantic(log_dir: Path, stamp: str) -> dict:
    out_path = RESULTS / f"semantic_cache-{stamp}.json"
    code, output = _child([PYTHON, "bench/semantic_cache.py", "--out", str(out_path)],
                          log_dir / "semantic_cache.log", timeout=900)  # fmt: skip
    result: dict = {"exit": code, "log": str(log_dir / "semantic_cache.log")}
    if out_path.exists():
        report = json.loads(out_path.read_text())
        current = report.get("setting_max_distance")
        result.update({"json": str(out_path.relative_to(ROOT)), "pairs": report.get("pairs"),
                       "should_hit": report.get("should_hit"), "setting_max_distance": current,
                       "recommended": report.get("recommended"),
                       "index_latency": report.get("index_latency")})  # fmt: skip
        at_setting = {}
        for mode, rows in report.get("modes", {}).items():
            for row in rows:
                if row.get("guard") and current is not None and abs(row["max_distance"] - current) < 1e-9:
                    at_setting[mode] = {k: row.get(k) for k in ("hit_rate", "wrong_hit_rate", "wrong_hits", "queries")}
        result["at_setting"] = at_setting
    result["tail"] = output.strip().splitlines()[-12:]
    return result


def scenario_quality(log_dir: Path, stamp: str) -> dict:
    """Answer quality (bench/quality.py): its held-out figures per embedder."""
    out_path = RESULTS / f"quality-{stamp}.json"
    code, output = _child([PYTHON, "bench/quality.py", "--out", str(out_path)], log_dir / "quality.log", timeout=1800)
    result: dict = {"exit": code, "log": str(log_dir / "quality.log"), "table": _table_from(output)}
    if out_path.exists():
        report = json.loads(out_path.read_text())
        result["json"] = str(out_path.relative_to(ROOT))
        result["heldout"] = {name: e["splits"]["heldout"] for name, e in report["embedders"].items()}
    return result


def scenario_instructions(log_dir: Path) -> dict:
    """bench/instructions.py for a miss, an exact hit and the control (GET /auth/me): the app's work per
    request, the same on a busy machine. Needs valgrind."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed"}
    result: dict = {}
    for kind in INSTRUCTIONS_BASELINE:
        code, output = _child([PYTHON, "bench/instructions.py", "--kind", kind], log_dir / f"instructions-{kind}.log",
                              timeout=1200)  # fmt: skip
        counted = next((json.loads(line) for line in output.splitlines() if line.startswith("{")), None)
        result[kind] = counted["instructions_per_request"] if code == 0 and counted else None
    return result


def scenario_stats(options: dict, log_dir: Path) -> dict:
    command = [PYTHON, "bench/stats.py", "--rows", str(options["rows"]), "--runs", str(options["runs"])]
    code, output = _child(command, log_dir / "stats.log", timeout=1200)
    rows = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("measure") and line.rstrip().endswith("ms"):
            for row in lines[index + 1 :]:
                match = re.match(r"^(.*\S)\s+([\d.]+)$", row)
                if not match:
                    break
                rows.append({"measure": match.group(1).strip(), "ms": float(match.group(2))})
    return {"command": " ".join(command[1:]), "exit": code, "rows": rows, "log": str(log_dir / "stats.log")}


def _table_from(output: str) -> list[str]:
    """The last table a child printed (lines with | or aligned columns after the last blank line)."""
    blocks = [b for b in output.strip().split("\n\n") if b.strip()]
    for block in reversed(blocks):
        if block.count("\n") >= 3 and not block.startswith("wrote"):
            return block.splitlines()
    return []


# --- the report ---------------------------------------------------------------------------------------
def targets(results: dict) -> list[dict]:
    checks = []

    def add(name, value, target, ok):
        checks.append({"target": name, "measured": value, "goal": target, "met": bool(ok)})

    overhead = results.get("overhead")
    if overhead:
        miss1, miss16 = overhead["miss"].get("1"), overhead["miss"].get("16")
        exact1 = overhead["exact"].get("1")
        if miss1:
            add("miss path p50 at c=1", f"{miss1['p50_ms']} ms", "<= 10 ms", miss1["p50_ms"] <= 10)
        if miss16:
            add("miss path req/s at c=16", miss16["rps"], ">= 170", miss16["rps"] >= 170)
        if exact1:
            add("exact hit p50 at c=1", f"{exact1['p50_ms']} ms", "<= 3 ms", exact1["p50_ms"] <= 3)
    slow = results.get("slow")
    if slow:
        for concurrency, row in slow["by_concurrency"].items():
            if int(concurrency) <= 200:
                measured = f"{row['throughput_ratio']:.0%} of c/{slow['delay_s']:g}s"
                add(f"slow LLM c={concurrency} throughput", measured, ">= 90%", row["throughput_ratio"] >= 0.9)
            if int(concurrency) == 200:
                add("slow LLM p99 at c=200", f"{row['p99_ms']} ms", "<= 1300 ms", row["p99_ms"] <= 1300)
            add(f"slow LLM c={concurrency} errors", row["errors"], "0", row["errors"] == 0)
    instructions = results.get("instructions") or {}
    if instructions.get("miss"):
        ratio = instructions["miss"] / INSTRUCTIONS_BASELINE["miss"]
        add("miss path instructions per request, against f7a0ca3", f"{ratio - 1:+.1%}", "<= +15%", ratio <= 1.15)
    retrieval = results.get("retrieval")
    if retrieval and retrieval.get("auto"):
        worst_recall = min(r["recall_at_5"] for r in retrieval["auto"])
        worst_p95 = max(r["p95_ms"] for r in retrieval["auto"])
        add("retrieval recall@5, every filter (auto plan)", worst_recall, ">= 0.98", worst_recall >= 0.98)
        add("retrieval p95, every filter (auto plan)", f"{worst_p95} ms", "<= 10 ms", worst_p95 <= 10)
    semantic = results.get("semantic")
    if semantic and semantic.get("at_setting"):
        worst = max(row["wrong_hit_rate"] for row in semantic["at_setting"].values())
        add("semantic cache wrong hits at the default threshold", f"{worst:.1%}", "<= 1%", worst <= 0.01)
    quality = (results.get("quality") or {}).get("heldout", {}).get("e5")
    if quality:
        add("held-out recall@1 (e5)", quality["recall@1"], ">= 0.85", quality["recall@1"] >= 0.85)
        add("held-out recall@5 (e5)", quality["recall@5"], ">= 0.95", quality["recall@5"] >= 0.95)
        add("held-out cross-language recall@1 (e5)", quality["xling@1"], ">= 0.75", quality["xling@1"] >= 0.75)
        caught, unanswerable = (int(n) for n in quality["caught"].split("/"))
        add("held-out unanswerable caught (e5)", quality["caught"], ">= 75%", caught >= 0.75 * unanswerable)
        refused, answerable = (int(n) for n in quality["false_refusals"].split("/"))
        add("held-out false refusals (e5)", quality["false_refusals"], "<= 3 per 72", refused * 72 <= 3 * answerable)
    return checks


def print_report(results: dict) -> None:
    print()
    overhead = results.get("overhead")
    if overhead:
        print("| scenario | c | p50 ms (spread) | p95 ms | p99 ms | req/s (spread) | errors | answered from | "
              "CPU ms/request: app, pg, redis, llm, client |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for kind in KINDS:
            for concurrency, row in overhead.get(kind, {}).items():
                cpu = row["cpu_ms_per_request"]
                cpu_text = ", ".join(f"{cpu.get(k, 0):.1f}" for k in ("app", "postgres", "valkey", "llm", "client"))
                spread = f"{row['p50_spread'][0]:.1f}-{row['p50_spread'][1]:.1f}"
                rps_spread = f"{row['rps_spread'][0]:.0f}-{row['rps_spread'][1]:.0f}"
                cache = ", ".join(f"{k} {v}" for k, v in sorted(row["cache"].items())) if kind != "profile" else "-"
                print(f"| {kind} | {concurrency} | {row['p50_ms']:.1f} ({spread}) | {row['p95_ms']:.1f} | "
                      f"{row['p99_ms']:.1f} | {row['rps']:.0f} ({rps_spread}) | {row['errors']} | {cache} | "
                      f"{cpu_text} |")  # fmt: skip
        print()
    workers = results.get("workers")
    if workers:
        print("| uvicorn workers | miss c=16 p50 ms | req/s | app CPU ms/request |")
        print("|---|---|---|---|")
        for count, row in workers.items():
            print(f"| {count} | {row['p50_ms']:.1f} | {row['rps']:.0f} | {row['cpu_ms_per_request']['app']:.1f} |")
        print()
    slow = results.get("slow")
    if slow:
        print(f"| slow LLM ({slow['delay_s']:g} s) c | req/s | of c/{slow['delay_s']:g}s | p50 ms | p95 ms | "
              "p99 ms | errors | RSS per worker MB (max) | PG connections (max) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for concurrency, row in slow["by_concurrency"].items():
            print(f"| {concurrency} | {row['rps']:.0f} | {row['throughput_ratio']:.0%} | {row['p50_ms']:.0f} | "
                  f"{row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} | {row.get('rss_mb_max')} | "
                  f"{row.get('pg_connections_max')} |")  # fmt: skip
        print()
    memory = results.get("memory")
    if memory:
        print(f"memory per worker (RSS MB): idle {memory.get('idle')}, after scenario 1 "
              f"{memory.get('after_overhead')}, under scenario 2 (max) {memory.get('under_slow')}")  # fmt: skip
        print()
    ingest = results.get("ingest")
    if ingest:
        print("| ingestion (median run) | chunks | seconds | chunks/s (spread) |")
        print("|---|---|---|---|")
        for row in ingest:
            name = f"{row['embedder']} ({row['model']})"
            spread = row.get("chunks_per_s_spread")
            rate = f"{row['chunks_per_s']} ({spread[0]}-{spread[1]})" if spread else row["chunks_per_s"]
            print(f"| {name} | {row['chunks']} | {row['seconds']} | {rate} |")
        print()
    retrieval = results.get("retrieval")
    if retrieval:
        print(f"retrieval ({retrieval.get('command')}, exit {retrieval.get('exit')}):")
        for line in retrieval.get("table", []):
            print("  " + line)
        print()
    semantic = results.get("semantic")
    if semantic:
        print(f"semantic cache (exit {semantic.get('exit')}): at SEMANTIC_CACHE_MAX_DISTANCE="
              f"{semantic.get('setting_max_distance')} with the guard: {semantic.get('at_setting')}; "
              f"KNN {semantic.get('index_latency')}")  # fmt: skip
        for line in semantic.get("tail", [])[-4:]:
            print("  " + line)
        print()
    instructions = results.get("instructions")
    if instructions:
        print("instructions per request (bench/instructions.py), against f7a0ca3:")
        for kind, count in instructions.items():
            if kind in INSTRUCTIONS_BASELINE:
                change = f"{count / INSTRUCTIONS_BASELINE[kind] - 1:+.1%}" if count else "failed"
                print(f"  {kind:<8} {(count or 0) / 1e6:>7.2f} M  {change}")
            else:
                print(f"  {kind}: {count}")
        print()
    quality = results.get("quality")
    if quality:
        print(f"answer quality (exit {quality.get('exit')}), bench/quality.py:")
        for line in quality.get("table", []):
            print("  " + line)
        print()
    stats = results.get("stats")
    if stats:
        print(f"operations stats ({stats.get('command')}, exit {stats.get('exit')}):")
        for row in stats.get("rows", []):
            print(f"  {row['measure']:<55} {row['ms']:>10.1f} ms")
        print()
    checks = results.get("targets") or []
    if checks:
        print("| target | goal | measured | met |")
        print("|---|---|---|---|")
        for check in checks:
            print(f"| {check['target']} | {check['goal']} | {check['measured']} | {'yes' if check['met'] else 'NO'} |")
        print()


def compare(results: dict, baseline: dict) -> None:
    """Ratios new / baseline for each number both runs have; for req/s above 1 is better, else below 1."""
    print(f"compared with the baseline of {baseline.get('when')} (new / baseline):")
    print("| measure | baseline | now | ratio |")
    print("|---|---|---|---|")

    def line(name, old, new, higher_is_better=False):
        if old in (None, 0) or new is None:
            return
        ratio = new / old
        better = ratio > 1 if higher_is_better else ratio < 1
        mark = "better" if better and abs(ratio - 1) > 0.05 else ("worse" if abs(ratio - 1) > 0.05 else "same")
        print(f"| {name} | {old} | {new} | {ratio:.2f} ({mark}) |")

    for kind in KINDS:
        for concurrency, row in (results.get("overhead") or {}).get(kind, {}).items():
            old = ((baseline.get("overhead") or {}).get(kind) or {}).get(concurrency)
            if not old:
                continue
            line(f"{kind} c={concurrency} p50 ms", old["p50_ms"], row["p50_ms"])
            line(f"{kind} c={concurrency} p99 ms", old["p99_ms"], row["p99_ms"])
            line(f"{kind} c={concurrency} req/s", old["rps"], row["rps"], higher_is_better=True)
            line(f"{kind} c={concurrency} app CPU ms/request", old["cpu_ms_per_request"].get("app"),
                 row["cpu_ms_per_request"].get("app"))  # fmt: skip
    for concurrency, row in ((results.get("slow") or {}).get("by_concurrency") or {}).items():
        old = ((baseline.get("slow") or {}).get("by_concurrency") or {}).get(concurrency)
        if old:
            line(f"slow c={concurrency} req/s", old["rps"], row["rps"], higher_is_better=True)
            line(f"slow c={concurrency} p99 ms", old["p99_ms"], row["p99_ms"])
    for row in results.get("ingest") or []:
        old = next((r for r in baseline.get("ingest") or [] if r["embedder"] == row["embedder"]), None)
        if old:
            line(f"ingest {row['embedder']} chunks/s", old["chunks_per_s"], row["chunks_per_s"], higher_is_better=True)
    print()


# --- main ----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)  # fmt: skip
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="shorter runs, smaller data (about 5 minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny: checks that everything runs (seconds)")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios out of {', '.join(SCENARIOS)}")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2, as deployed)")
    parser.add_argument("--repeats", type=int, help="runs per cell of scenarios 1 and 2 (medians are reported)")
    parser.add_argument("--duration", type=float, help="seconds measured per overhead run")
    parser.add_argument("--slow-duration", type=float, help="seconds measured per slow-LLM run")
    parser.add_argument("--retrieval-rows", type=int, help="chunks for bench/retrieval.py (e.g. 1000000)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="the load generator's HTTP client")
    parser.add_argument("--http", default=DEFAULT_HTTP, help="uvicorn --http (auto: uvicorn's own, no TCP_NODELAY)")
    parser.add_argument("--app-env", default="{}", help="extra environment for the app as JSON (experiments)")
    parser.add_argument("--compare", type=Path, help="a saved result to print ratios against")
    parser.add_argument("--out", type=Path, help="where to write the JSON (default bench/results/<timestamp>.json)")
    args = parser.parse_args(argv)

    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    profile = dict(PROFILES[name])
    for key, value in (("repeats", args.repeats), ("slow_repeats", args.repeats), ("duration", args.duration),
                       ("slow_duration", args.slow_duration)):  # fmt: skip
        if value is not None:
            profile[key] = value
    if args.retrieval_rows:
        profile["retrieval"] = {**(profile["retrieval"] or {"queries": 100}), "rows": args.retrieval_rows}
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    args.app_env = json.loads(args.app_env)
    args.http = None if args.http == "auto" else args.http
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.out or RESULTS / f"{stamp}.json"
    log_dir = Path(tempfile.mkdtemp(prefix=f"gamecoach-bench-{stamp}-"))  # the other benchmarks' full output
    started = time.monotonic()

    results: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "profile": name, "machine": machine(),
                     "config": {"workers": args.workers, "http": args.http or "auto", "client": args.client,
                                **{k: v for k, v in profile.items() if k not in ("retrieval", "stats")}}}  # fmt: skip
    say(f"{name} run on {results['machine']['nproc']} x {results['machine']['cpu_model']}, "
        f"load average {results['machine']['load_average_at_start']}; scenarios: {', '.join(only)}")  # fmt: skip
    stack = None
    try:
        if {"overhead", "slow", "ingest"} & set(only):
            stack = Stack.start(log=say)
            say(f"creating {profile['players']} players")
            stack.players_create(profile["players"])
            questions = Questions()
            memory: dict = {}
            if {"overhead", "slow"} & set(only):
                say(f"starting the app: uvicorn, {args.workers} worker(s), --http {args.http or 'auto'}")
                url = stack.app_start(workers=args.workers, extra_env=args.app_env, http=args.http)
                load_run(stack, url, _miss(questions, 3000), concurrency=8, duration=1.5 if not args.smoke else 0.5,
                         warmup=0.5 if not args.smoke else 0.1)  # warm every worker  # fmt: skip
                time.sleep(0.5)
                memory["idle"] = rss_mb(stack.app_worker_pids())
            if "overhead" in only:
                say("scenario 1: ask overhead, the LLM answering at once")
                results["overhead"] = scenario_overhead(stack, url, profile, args, questions)
                memory["after_overhead"] = rss_mb(stack.app_worker_pids())
            if "slow" in only:
                say(f"scenario 2: the LLM takes {profile['slow_delay']:g} s to answer")
                results["slow"] = scenario_slow(stack, url, profile, args, questions)
                memory["under_slow"] = max(
                    (row.get("rss_mb_max") or [] for row in results["slow"]["by_concurrency"].values()),
                    key=lambda values: max(values or [0]),
                )
                stack.app_stop()
            if "overhead" in only and profile["workers_compare"]:
                say("1 vs 2 uvicorn workers (miss path, c=16)")
                results["workers"] = scenario_workers(stack, profile, args, questions)
                stack.app_stop()
            if memory:
                results["memory"] = memory
            if "ingest" in only:
                from ingest import ingest_median, ingest_run

                repeats = profile["ingest_repeats"]
                say(f"scenario 5: ingesting {profile['ingest_chunks']:,} chunks, offline and through the OpenAI API, "
                    f"{repeats} time(s) each, alternately")  # fmt: skip
                runs: dict[str, list[dict]] = {"offline": [], "openai": []}
                for _ in range(repeats):
                    for embedder in runs:
                        row = ingest_run(chunks=profile["ingest_chunks"], embedder=embedder,
                                         openai_key=stack.env["OPENAI_API_KEY"],
                                         openai_base_url=stack.env["OPENAI_BASE_URL"])  # fmt: skip
                        runs[embedder].append(row)
                        say(f"  {embedder}: {row['chunks']} chunks in {row['seconds']} s "
                            f"= {row['chunks_per_s']} chunks/s")  # fmt: skip
                results["ingest"] = [ingest_median(rows) for rows in runs.values()]
            stack.stop()
            stack = None
        if "retrieval" in only and profile["retrieval"]:
            say(f"scenario 3: retrieval, bench/retrieval.py with {profile['retrieval']['rows']:,} chunks")
            results["retrieval"] = scenario_retrieval(profile["retrieval"], log_dir)
        if "semantic" in only and profile["semantic"]:
            say("scenario 4: semantic cache, bench/semantic_cache.py")
            results["semantic"] = scenario_semantic(log_dir, stamp)
        if "quality" in only and profile["quality"]:
            say("answer quality, bench/quality.py (both offline embedders)")
            results["quality"] = scenario_quality(log_dir, stamp)
        if "instructions" in only and profile["instructions"]:
            say("instructions per request, bench/instructions.py (miss, exact hit, the control)")
            results["instructions"] = scenario_instructions(log_dir)
        if "stats" in only and profile["stats"]:
            say(f"operations stats, bench/stats.py with {profile['stats']['rows']:,} question logs")
            results["stats"] = scenario_stats(profile["stats"], log_dir)
    finally:
        if stack is not None:
            stack.stop()
    results["targets"] = targets(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_report(results)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    say(f"wrote {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path} "
        f"({results['seconds']:.0f} s)")  # fmt: skip
    if args.compare:
        compare(results, json.loads(args.compare.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
