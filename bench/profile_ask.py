"""Where the ask path's time goes: the real app in this process, sampled across all of its threads.

The app serves under uvicorn in a thread (tests/servers/asgi.py) on the benchmark stack
(bench/stack.py); a client in the main thread asks `--requests` questions one after another (miss
path by default). A sampler thread reads every other thread's stack each millisecond
(sys._current_frames) and weights it by the CPU that thread used since the last look (its own
CPU clock), so the work Django hands to sync_to_async threads is seen too, which cProfile (one
thread) and pyinstrument (one thread or one task) would miss, and waiting costs nothing. Prints
the functions with the most CPU, by self time and by inclusive time, in ms per request.

    .venv/bin/python bench/profile_ask.py [--requests 300] [--kind miss|exact|semantic] [--top 40]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


class Sampler(threading.Thread):
    """Every `interval`, each thread's stack weighted by the CPU time that thread used since the last
    look (its own CPU clock, pthread_getcpuclockid): a thread that waited costs nothing."""

    def __init__(self, interval: float = 0.0005, exclude: set[int] | None = None):
        super().__init__(daemon=True, name="sampler")
        self.interval = interval
        self.exclude = exclude or set()
        self.self_counts: collections.Counter = collections.Counter()
        self.incl_counts: collections.Counter = collections.Counter()
        self.samples = 0  # CPU nanoseconds seen
        self.running = True
        self._clocks: dict[int, int] = {}

    def _cpu_ns(self, ident: int) -> int | None:
        try:
            return time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
        except (OSError, OverflowError):
            return None

    def run(self) -> None:
        me = threading.get_ident()
        while self.running:
            for ident, frame in sys._current_frames().items():
                if ident == me or ident in self.exclude:
                    continue
                now = self._cpu_ns(ident)
                if now is None:
                    continue
                spent = now - self._clocks.get(ident, now)
                self._clocks[ident] = now
                if spent <= 0:
                    continue
                self.samples += spent
                seen = set()
                top = True
                while frame is not None:
                    code = frame.f_code
                    key = f"{_short(code.co_filename)}:{code.co_firstlineno} {code.co_name}"
                    if top:
                        self.self_counts[key] += spent
                        top = False
                    if key not in seen:
                        self.incl_counts[key] += spent
                        seen.add(key)
                    frame = frame.f_back
            time.sleep(self.interval)


class ThreadProfiles:
    """cProfile in the server's event-loop thread and every thread started from now on, merged at the end."""

    def __init__(self, loop_thread: threading.Thread):
        import cProfile

        self.profiles: list = []
        self._lock = threading.Lock()

        def start_in_this_thread(*_args):
            sys.setprofile(None)
            # thread_time: CPU seconds of this thread, so waiting on a socket or a lock costs nothing here
            profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self.profiles.append(profile)
            profile.enable()

        threading.setprofile(start_in_this_thread)
        # The event loop's thread is already running: ask it to start one itself. (uvloop's loop does not
        # say which thread runs it, so every running loop is asked, and the one in that thread answers.)
        done = threading.Event()

        def start_if_server_loop() -> None:
            if threading.get_ident() == loop_thread.ident and not done.is_set():
                start_in_this_thread()
                done.set()

        for loop in _loops():
            if loop.is_running():
                loop.call_soon_threadsafe(start_if_server_loop)
        done.wait(5)
        self.loop_profile = self.profiles[-1] if done.is_set() else None

    def stop(self) -> None:
        threading.setprofile(None)

    def print(self, top: int, dump: str | None = None) -> None:
        import pstats

        with self._lock:
            profiles = list(self.profiles)
        stats = None
        for profile in profiles:
            profile.disable()
            profile.create_stats()
            stats = pstats.Stats(profile) if stats is None else stats.add(profile)
        if stats is None:
            print("no profile collected")
            return
        if dump:
            stats.dump_stats(dump)
        print("=== every server thread ===")
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        if getattr(self, "loop_profile", None) is not None:
            print("=== the event loop's thread alone ===")
            pstats.Stats(self.loop_profile).sort_stats("tottime").print_stats(top)
            pstats.Stats(self.loop_profile).sort_stats("cumulative").print_stats(top)


def _loops():
    import asyncio as _asyncio
    import gc

    return [obj for obj in gc.get_objects() if isinstance(obj, _asyncio.AbstractEventLoop)]


def _short(path: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--kind", choices=["miss", "exact", "semantic"], default="miss")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--cprofile", action="store_true",
                        help="deterministic CPU profile instead: cProfile in every server thread, merged")  # fmt: skip
    parser.add_argument("--dump", help="with --cprofile: also write the merged stats here (for pstats)")
    args = parser.parse_args()

    from stack import Stack

    stack = Stack.start()
    try:
        players = stack.players_create(50)
        tokens = [p.token for p in players]
        from django.conf import settings

        settings.OPENAI_API_KEY = stack.env["OPENAI_API_KEY"]
        settings.OPENAI_BASE_URL = stack.env["OPENAI_BASE_URL"]
        from load import miss_bodies, run

        from tests.servers.asgi import AsgiServer

        with AsgiServer() as server:
            items = []
            if args.kind in ("exact", "semantic"):
                bodies = miss_bodies(500_000)
                items = [(n % len(tokens), next(bodies)[1]) for n in range(20)]
                asyncio.run(run({"url": server.url, "tokens": tokens, "concurrency": 1, "duration": 2, "warmup": 0,
                                 "source": {"kind": "list", "items": items[:20]}}))  # fmt: skip
                if args.kind == "semantic":  # the same questions from other players
                    items = [((t + 1 + n) % len(tokens), body) for n, (t, body) in enumerate(items)]
            source = {"kind": "miss", "seed": 1} if args.kind == "miss" else {"kind": "list", "items": items}
            spec = {"url": server.url, "tokens": tokens, "concurrency": 1, "duration": 3, "warmup": 1,
                    "source": source}  # fmt: skip
            asyncio.run(run(spec))  # warm: imports, connections, tiktoken
            if args.kind == "miss":
                spec["source"] = {"kind": "miss", "seed": 100_000}
            sampler = Sampler(exclude={threading.get_ident()})
            # A thread busy in Python gives up the GIL only every switch interval (5 ms by default): with
            # that, a sampler waiting for the GIL sees the event loop mostly when it is idle in uvloop's
            # epoll (asyncio/runners.py "run") and none of its work. 0.1 ms lets it look in mid-work.
            sys.setswitchinterval(0.0001)
            profiles = ThreadProfiles(server._thread) if args.cprofile else None
            if profiles is None:
                sampler.start()
            started = time.perf_counter()
            spec["duration"] = args.requests / 50
            result = asyncio.run(run({**spec, "warmup": 0}))
            elapsed = time.perf_counter() - started
            sampler.running = False
            if profiles is not None:
                profiles.stop()
            else:
                sampler.join()
        print(json.dumps(result))
        if profiles is not None:
            each = elapsed * 1000 / max(1, result["requests"])
            print(f"\n{result['requests']} {args.kind} requests, {each:.1f} ms each")
            profiles.print(args.top, args.dump)
            return 0
        per_request = elapsed * 1000 / max(1, result["requests"])
        total = max(1, sampler.samples)
        requests = max(1, result["requests"])
        print(f"\n{result['requests']} {args.kind} requests, {per_request:.1f} ms each (wall); "
              f"{sampler.samples / 1e6 / requests:.1f} ms of CPU each in the server's threads\n")  # fmt: skip
        for title, counts in (("self", sampler.self_counts), ("inclusive", sampler.incl_counts)):
            print(f"--- top {args.top} by {title} CPU: ms per request, % of all ---")
            for key, count in counts.most_common(args.top):
                print(f"{count / 1e6 / requests:7.3f} {100 * count / total:6.1f}%  {key}")
            print()
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
