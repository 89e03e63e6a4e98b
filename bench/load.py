"""A closed-loop HTTP load generator for POST /api/coach/ask, run as its own process.

`concurrency` connections each send one request, wait for the answer, and send the next, for
`warmup` + `duration` seconds; only answers that arrive after the warm-up count. It speaks
HTTP/1.1 keep-alive over asyncio streams directly, on uvloop: 0.1-0.2 ms of client CPU per request, where
httpx takes several times that (bench/run.py --client httpx measures both), and the client shares
the machine's two cores with the app, so what it spends is what the app loses.

    .venv/bin/python bench/load.py < spec.json      # prints one JSON summary

The spec: {"url", "path", "tokens": [...], "concurrency", "duration", "warmup", "timeout",
"source": {"kind": "miss", "seed"} | {"kind": "list", "items": [[token_index, body], ...]},
"client": "raw" | "httpx"}. "miss" makes every question new (a number no other question has), so
neither cache can answer it; "list" sends the items in order, wrapping around.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import statistics
import sys
import time
from urllib.parse import urlsplit

import uvloop

GAMES = {
    "elden-ring": [
        "Rune level {n}: how do I dodge Malenia's Waterfowl Dance in phase 2?",
        "룬 레벨 {n}인데 말레니아 2페이즈 물새 난무 어떻게 피해요?",
        "What should I do at the Radahn festival with {n} vigor?",
        "라다안 축제 보스 체력 {n} 일 때 공략 알려줘",
    ],
    "league-of-legends": [
        "Best jungle path this patch for a level {n} account?",
        "이번 패치 정글 동선 추천해줘, 계정 레벨 {n}",
        "How should I clear the first camps when my MMR is {n}?",
        "첫 정글 캠프 {n}초 안에 도는 방법?",
    ],
}
_TEMPLATES = [(game, template) for game, templates in GAMES.items() for template in templates]


def miss_bodies(seed: int):
    """Endless new questions: every one carries a number no earlier one had.

    Numbers stay under a million: the semantic cache's guard compares numbers at six significant
    digits, so 10000001 and 10000009 would read as the same question there.
    """
    for n in itertools.count(seed):
        game, template = _TEMPLATES[n % len(_TEMPLATES)]
        yield n, json.dumps({"game": game, "question": template.format(n=n)}, ensure_ascii=False)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _cache_kind(body: bytes) -> str:
    at = body.find(b'"cache":"')
    if at < 0:
        return "?"
    start = at + 9
    return body[start : body.find(b'"', start)].decode()


class _Raw:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = None, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body, close = await self.reader.read(), True
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run(spec: dict) -> dict:
    url = urlsplit(spec["url"])
    host, port, path = url.hostname, url.port, spec.get("path", "/api/coach/ask")
    tokens = spec["tokens"]
    concurrency, timeout = int(spec["concurrency"]), float(spec.get("timeout", 30))
    source = spec["source"]
    if source["kind"] == "miss":
        bodies = ((n % len(tokens), body) for n, body in miss_bodies(int(source.get("seed", 0))))
    else:
        bodies = itertools.cycle([(int(t), b) for t, b in source["items"]])
    method = spec.get("method", "POST")
    headers = [f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Authorization: Bearer {token}\r\n" for token in tokens]  # fmt: skip

    results: list[tuple[float, float, int, str]] = []  # (start, end, status, cache kind)
    failures: list[str] = []
    client_kind = spec.get("client", "raw")
    httpx_client = None
    if client_kind == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        httpx_client = httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=timeout)

    started = time.perf_counter()
    measure_from = started + float(spec.get("warmup", 1))
    stop_at = measure_from + float(spec["duration"])

    # Connections open a few milliseconds apart, as clients arrive through a proxy: a burst of
    # connects all lands in whichever uvicorn worker wakes first (asyncio accepts the whole backlog).
    stagger = min(0.005, float(spec.get("warmup", 1)) / (2 * concurrency))

    async def worker(index: int) -> None:
        connection = _Raw(host, port)
        await asyncio.sleep(index * stagger)
        try:
            while time.perf_counter() < stop_at:
                token_index, body = next(bodies)
                begin = time.perf_counter()
                try:
                    if httpx_client is not None:
                        request_headers = {"Authorization": f"Bearer {tokens[token_index]}",
                                           "Content-Type": "application/json"}  # fmt: skip
                        response = await httpx_client.post(path, content=body.encode(), headers=request_headers)
                        status, content = response.status_code, response.content
                    else:
                        data = body.encode()
                        raw = headers[token_index].encode() + b"Content-Length: %d\r\n\r\n" % len(data) + data
                        status, content = await asyncio.wait_for(connection.request(raw), timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    connection.close()
                    results.append((begin, time.perf_counter(), 0, "error"))
                    if len(failures) < 5:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                except Exception as exc:  # httpx's own errors
                    results.append((begin, time.perf_counter(), 0, "error"))
                    if len(failures) < 5:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                end = time.perf_counter()
                kind = _cache_kind(content) if status == 200 else "error"
                if status != 200 and len(failures) < 5:
                    failures.append(f"HTTP {status}: {content[:300].decode(errors='replace')}")
                results.append((begin, end, status, kind))
        finally:
            connection.close()

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    if httpx_client is not None:
        await httpx_client.aclose()

    counted = [r for r in results if measure_from <= r[1] <= stop_at]
    ok = [(end - begin) * 1000 for begin, end, status, _ in counted if status == 200]
    errors = sum(1 for r in counted if r[2] != 200)
    kinds: dict[str, int] = {}
    for r in counted:
        kinds[r[3]] = kinds.get(r[3], 0) + 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    window = stop_at - measure_from
    return {
        "requests": len(counted),
        "ok": len(ok),
        "errors": errors,
        "failures": failures,
        "cache": kinds,
        "rps": round(len(ok) / window, 1),
        "p50_ms": round(_percentile(ok, 0.50), 2),
        "p95_ms": round(_percentile(ok, 0.95), 2),
        "p99_ms": round(_percentile(ok, 0.99), 2),
        "mean_ms": round(statistics.fmean(ok), 2) if ok else 0.0,
        "max_ms": round(max(ok), 2) if ok else 0.0,
        "sent": len(results),
        "window_s": round(window, 3),
        "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(uvloop.run(run(spec))))  # the app's own loop: less of the shared CPU for the client
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
