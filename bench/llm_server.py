"""The tests' OpenAI-compatible server (tests/servers/openai_server.py) as its own process, for benchmarks.

Its own process, so the model's side of each call costs no CPU in the load generator or the app:

    .venv/bin/python bench/llm_server.py --delay 1.0      # prints "port <n>", serves until stdin closes

A line "delay <seconds>" on stdin changes the delay (answered with "ok").
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The answer is the length of a short coaching answer (about 60 tokens), as a model would write it.
ANSWER = (
    "Stay close to Malenia and roll through Waterfowl Dance toward her on the first flurry, away on the "
    "second, then punish her recovery with two light attacks [1]. Keep your bleed buildup high and heal "
    "only after her combo ends [2]."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every reply (a slow model)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()  # the server counts tokens with ai.tokens (tiktoken, offline files)
    from tests.servers.openai_server import OpenAIServer

    server = OpenAIServer(delay=args.delay)
    # The test server keeps every request for assertions; a benchmark sends hundreds of thousands.
    server.requests = collections.deque(maxlen=1000)
    server.start()
    server.answer = ANSWER
    print(f"port {server.port}", flush=True)
    stop = threading.Event()

    def forget_prompts() -> None:  # the prompt-cache simulation remembers every prefix it saw
        while not stop.wait(30):
            server.reset()

    threading.Thread(target=forget_prompts, daemon=True).start()
    try:
        for line in sys.stdin:  # the parent closes our stdin (or dies) to stop us
            command = line.split()
            if len(command) == 2 and command[0] == "delay":
                server.delay = float(command[1])
                print("ok", flush=True)
    finally:
        stop.set()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
