"""Filtered vector retrieval: recall@5 against exact search, p50/p95 latency per plan and filter, and
the selector's queries per second with 2 and 8 concurrent clients.

Runs standalone against its own embedded PostgreSQL + pgvector (dev.embedded, in a temporary
directory or --db-dir), migrated with the project's own migrations, filled with clustered synthetic
vectors, and searched through the real knowledge.search.chunk_search_with_plan.

    .venv/bin/python bench/retrieval.py                 # 100k chunks, 100 queries per case
    .venv/bin/python bench/retrieval.py --rows 1000000 --queries 50 --plans auto,hnsw,baseline \
        --shared-buffers 4GB --db-dir DIR              # 1M: the build takes 10-20 minutes; with --db-dir
                                                        # the next run reuses it (and its ground truth)

Filters keep 100% (the game), 20% (a category), 1% (category + tag) and 0.5% (a rare tag) of
the rows; membership follows clusters, as real categories do. Two query sets per filter: "near"
(perturbed rows of the filtered set: a player asking about what they picked) and "far" (perturbed
rows of the whole table: the pessimistic case). Plans:

    auto      the selector's choice (exact scan up to RETRIEVAL_EXACT_MAX_ROWS filtered rows, else
              the HNSW index with iterative scans, its candidates put in exact order, falling back
              to exact when it comes back short)
    hnsw      the HNSW path forced (same settings and fallback); hnsw@200: with hnsw.ef_search 200
    exact     the exact path forced
    baseline  plain pgvector defaults on the same index: ef_search 40, iterative scans off, no
              re-rank (what a naive query gets)

Every query set runs --repeats times (3); the table gives the medians of p50 and p95, and for the
auto plan the spread of p95 in brackets. Queries per second: the auto plan, --clients concurrent
clients (threads, a connection each), each running the whole query set once.

Prints a table and writes JSON to bench/results/retrieval-<rows>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "bench-synthetic"
K = 5
CLUSTER_SIZE = 100
NOISE = 0.06  # per-dimension stddev around a unit centre: points at cosine ~0.6 of their centre
QUERY_NOISE = 0.03
FILTERS = {
    "100%": {},
    "20%": {"category": "build"},
    "1%": {"category": "build", "tags": ["meta"]},
    "0.5%": {"tags": ["rare"]},
}


def start_database(workdir: Path, shared_buffers: str | None = None):
    import subprocess

    import psycopg

    from dev import embedded

    server = embedded.postgres_start(workdir / "pg", embedded.free_port(), fsync=False)
    if shared_buffers:
        # the embedded server pins shared_buffers (256MB) on its command line, where a later -c wins
        args = [*server.process.args, "-c", f"shared_buffers={shared_buffers}"]
        server.stop()
        with open(server.log_path, "ab") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=embedded._die_with_parent(), **embedded._run_as())  # fmt: skip
        port = int(args[args.index("-p") + 1])
        embedded._wait_for_postgres(port, process, server.log_path)
        server = embedded.EmbeddedServer("postgres", process, server.url, server.log_path)
    url = embedded.postgres_create_database(server, "bench")
    with psycopg.connect(url, autocommit=True) as conn:
        # the whole HNSW graph in memory (1M x 384 dims is ~1-2 GB; past the limit the build slows many
        # times over), and the build shared between both cores; also for migrate on a reused database
        conn.execute("ALTER DATABASE bench SET maintenance_work_mem = '4GB'")
        conn.execute("ALTER DATABASE bench SET max_parallel_maintenance_workers = 1")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(workdir / "tiktoken"))
    return server


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    importlib.import_module("knowledge.search")  # now: a long run measures the code it started with


def build(rows: int, dim: int, seed: int) -> dict:
    """Games, one document per cluster, and `rows` chunks, generated inside PostgreSQL."""
    from django.db import connection

    clusters = rows // CLUSTER_SIZE
    timings = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed / 1000])
        cursor.execute(
            "INSERT INTO knowledge_game (slug, name_ko, name_en, categories, created_at, updated_at) "
            "VALUES ('bench', '벤치', 'Bench', '{}', now(), now()) RETURNING id"
        )
        game_id = cursor.fetchone()[0]
        # cluster c: category build for 20% of clusters; tag meta on 1/5 of those (1% of rows); tag rare on 0.5%
        cursor.execute(
            """
            INSERT INTO knowledge_document (game_id, category, tags, title, source_kind, source_url, source_key,
                language, content_format, content, content_hash, status, index_status, indexed_hash, index_total,
                index_done, index_error, created_at, updated_at)
            SELECT %s,
                   CASE WHEN c %% 5 = 0 THEN 'build' ELSE (ARRAY['boss', 'lore', 'patch', 'faq'])[c %% 4 + 1] END,
                   (CASE WHEN c %% 100 = 0 THEN ARRAY['meta'] ELSE ARRAY[]::varchar[] END)
                   || (CASE WHEN c %% 200 = 7 THEN ARRAY['rare'] ELSE ARRAY[]::varchar[] END),
                   'cluster ' || c, 'guide', '', 'bench:' || c, 'en', 'text', 'x', 'bench', 'published', 'ready',
                   'bench', %s, %s, '', now(), now()
            FROM generate_series(0, %s - 1) AS c
            """,
            [game_id, CLUSTER_SIZE, CLUSTER_SIZE, clusters],
        )
        # "+ 0 * d.id" ties the inner SELECT to the row, so each centre gets its own random vector
        centres = f"""
            CREATE TEMP TABLE centre AS
            SELECT d.id AS document_id, d.category, d.tags,
                   l2_normalize(array(SELECT random_normal() + 0 * d.id FROM generate_series(1, {dim:d}))::vector) AS v
            FROM knowledge_document d
        """  # noqa: S608 - only integers are formatted in
        cursor.execute(centres)
        index_sqls = _drop_ann_indexes(cursor)
        started = time.monotonic()
        batch = max(1, 10000 // CLUSTER_SIZE)
        # a document's chunks side by side, as ingestion writes them (one document at a time): left to
        # the planner, the order within a batch varied with the table's size (at 100k it interleaved
        # documents, so a category's rows sat one to a page and an exact scan read 4x the pages)
        cursor.execute("SELECT document_id FROM centre ORDER BY document_id")
        document_ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(document_ids), batch):
            ids = document_ids[start : start + batch]
            chunks = f"""
                INSERT INTO knowledge_chunk (document_id, content_hash, position, text, token_count, needs_summary,
                    summarized, embedding, embedding_model, embedded_at, game_id, category, tags, searchable)
                SELECT c.document_id, 'bench', p, 'chunk ' || p, 10, false, false,
                       l2_normalize(c.v + array(SELECT random_normal(0, {NOISE}) + 0 * p
                                                FROM generate_series(1, {dim:d}))::vector),
                       %s, now(), %s, c.category, c.tags, true
                FROM centre c CROSS JOIN generate_series(0, {CLUSTER_SIZE - 1}) AS p
                WHERE c.document_id = ANY(%s)
                ORDER BY c.document_id, p
            """  # noqa: S608 - only numbers are formatted in
            cursor.execute(chunks, [MODEL, game_id, ids])
            done = min(start + batch, len(document_ids)) * CLUSTER_SIZE
            print(f"\r  generated {done:,}/{rows:,} chunks", end="", flush=True)
        print()
        timings["generate_s"] = round(time.monotonic() - started, 1)
        for name, index_sql in index_sqls.items():
            started = time.monotonic()
            cursor.execute(index_sql)
            timings[f"{name}_build_s"] = round(time.monotonic() - started, 1)
        cursor.execute("VACUUM ANALYZE knowledge_chunk")
        cursor.execute("VACUUM ANALYZE knowledge_document")
    return timings


def sizes() -> dict:
    """The table's and each of its indexes' size on disk."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'table', pg_size_pretty(pg_relation_size('knowledge_chunk')) UNION ALL "
            "SELECT indexname, pg_size_pretty(pg_relation_size(indexname::regclass)) FROM pg_indexes "
            "WHERE tablename = 'knowledge_chunk' ORDER BY 1"
        )
        return dict(cursor.fetchall())


def _drop_ann_indexes(cursor) -> dict[str, str]:
    """Drop the migrations' HNSW indexes (building them once after loading is far faster); return their SQL."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE tablename = 'knowledge_chunk' AND indexdef ILIKE '%% USING hnsw %%'"
    )
    definitions = dict(cursor.fetchall())
    for name in definitions:
        cursor.execute(f'DROP INDEX "{name}"')
    return definitions


def built_rows() -> int:
    """Chunks already in a reused database (0: build it)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM knowledge_chunk WHERE embedding_model = %s", [MODEL])
        return cursor.fetchone()[0]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def _perturb(rng: random.Random, vector: list[float]) -> list[float]:
    return _unit([v + rng.gauss(0, QUERY_NOISE) for v in vector])


def _where(filters: dict) -> tuple[str, list]:
    clauses, params = ["searchable", "embedding_model = %s"], [MODEL]
    if filters.get("category"):
        clauses.append("category = %s")
        params.append(filters["category"])
    if filters.get("tags"):
        clauses.append("tags && %s::varchar(50)[]")
        params.append(filters["tags"])
    return " AND ".join(clauses), params


def queries(rng: random.Random, filters: dict, count: int, near: bool) -> list[list[float]]:
    from django.db import connection
    from pgvector import Vector

    where, params = _where(filters if near else {})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM knowledge_chunk WHERE {where}", params)  # noqa: S608
        ids = [row[0] for row in cursor.fetchall()]
        picked = rng.sample(ids, min(count, len(ids)))
        cursor.execute("SELECT embedding::text FROM knowledge_chunk WHERE id = ANY(%s) ORDER BY id", [picked])
        vectors = [Vector.from_text(row[0]).to_list() for row in cursor.fetchall()]
    return [_perturb(rng, v) for v in vectors]


def exact_truth(query: list[float], filters: dict) -> list[int]:
    """The true top k by a plain sequential scan (no index of any kind), independent of the selector."""
    from django.db import connection, transaction
    from pgvector import Vector

    where, params = _where(filters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            f"SELECT id FROM knowledge_chunk WHERE {where} ORDER BY embedding <=> %s::halfvec, id LIMIT {K}",  # noqa: S608
            [*params, Vector(query).to_text()],
        )
        return [row[0] for row in cursor.fetchall()]


def baseline(query: list[float], filters: dict) -> list[int]:
    """What a naive filtered query gets with pgvector's defaults (ef_search 40, no iterative scan)."""
    from django.db import connection, transaction
    from pgvector import Vector

    where, params = _where(filters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.ef_search = 40")
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute(
            f"SELECT id FROM knowledge_chunk WHERE {where} AND game_id = (SELECT id FROM knowledge_game WHERE "  # noqa: S608
            f"slug = 'bench') ORDER BY embedding <=> %s::halfvec LIMIT {K}",
            [*params, Vector(query).to_text()],
        )
        return [row[0] for row in cursor.fetchall()]


def query_sets_with_truth(count: int, seed: int, keep_in: Path | None) -> dict:
    """Per (filter, query set): `count` (query, exact top k) pairs; kept in `keep_in` for a reused database."""
    saved = keep_in / f"queries-{count}-{seed}.json" if keep_in else None
    if saved and saved.exists():
        return {tuple(key.split("/")): cases for key, cases in json.loads(saved.read_text()).items()}
    rng = random.Random(seed)
    query_sets = {}
    started = time.monotonic()
    for filter_name, filters in FILTERS.items():
        for set_name, near in (("near", True), ("far", False)):
            if not filters and not near:
                continue  # with no filter, near and far are the same distribution
            cases = [(q, exact_truth(q, filters)) for q in queries(rng, filters, count, near)]
            query_sets[(filter_name, set_name)] = cases
    print(f"  exact ground truth for {sum(map(len, query_sets.values()))} queries: "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    if saved:
        saved.write_text(json.dumps({"/".join(key): cases for key, cases in query_sets.items()}))
    return query_sets


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(query_sets: dict, plans: list[str]) -> list[dict]:
    """One pass over every query set with every plan: recall, p50 and p95, short answers, paths."""
    from django.test import override_settings

    from knowledge.search import chunk_search_with_plan

    results = []
    for (filter_name, set_name), cases in query_sets.items():
        filters = FILTERS[filter_name]
        for plan in plans:
            recalls, latencies, short, paths = [], [], 0, {}
            for query, truth in cases:
                started = time.perf_counter()
                if plan == "baseline":
                    got = baseline(query, filters)
                    path = "baseline"
                else:
                    name, _, ef_search = plan.partition("@")  # hnsw@200: the HNSW path with ef_search 200
                    overrides = {"RETRIEVAL_HNSW_EF_SEARCH": int(ef_search)} if ef_search else {}
                    with override_settings(**overrides):
                        hits, info = chunk_search_with_plan(
                            game="bench", embedding=query, model_name=MODEL, k=K, plan=name, **filters
                        )
                    got, path = [h.chunk_id for h in hits], info.path
                latencies.append((time.perf_counter() - started) * 1000)
                recalls.append(len(set(got) & set(truth)) / len(truth))
                short += len(got) < len(truth)
                paths[path] = paths.get(path, 0) + 1
            results.append({
                "filter": filter_name, "queries": set_name, "plan": plan, "n": len(cases),
                "recall_at_5": round(statistics.mean(recalls), 3),
                "p50_ms": round(percentile(latencies, 0.5), 2), "p95_ms": round(percentile(latencies, 0.95), 2),
                "fewer_than_k": short, "paths": paths,
            })  # fmt: skip
    return results


def measure_repeated(query_sets: dict, plans: list[str], repeats: int) -> list[dict]:
    """measure() `repeats` times over: per row the medians of p50 and p95, and their spread."""
    runs = [measure(query_sets, plans) for _ in range(repeats)]
    results = []
    for rows in zip(*runs, strict=True):
        merged = dict(rows[-1])
        for key in ("p50_ms", "p95_ms"):
            values = [row[key] for row in rows]
            merged[key] = round(statistics.median(values), 2)
            merged[key.replace("_ms", "_spread")] = [min(values), max(values)]
        merged["recall_at_5"] = min(row["recall_at_5"] for row in rows)  # the same every run, but never flattered
        merged["runs"] = repeats
        results.append(merged)
        print(f"  {merged['filter']:>5} {merged['queries']:<4} {merged['plan']:<8} recall {merged['recall_at_5']:.3f}  "
              f"p50 {merged['p50_ms']:7.2f} ms {merged['p50_spread']}  p95 {merged['p95_ms']:7.2f} ms "
              f"{merged['p95_spread']}  short {merged['fewer_than_k']:3d}  {merged['paths']}", flush=True)  # fmt: skip
    return results


def throughput(query_sets: dict, clients: int, plan: str = "auto") -> dict:
    """Queries per second with `clients` concurrent clients, each a thread with its own connection
    running the whole query set (starting at a different query), per (filter, query set).

    Threads, not processes: the client's Python work per query (~0.3 ms) is small next to the
    database's, and psycopg releases the GIL while it waits.
    """
    import threading

    from django.db import connection

    from knowledge.search import chunk_search_with_plan

    rates = {}
    for (filter_name, set_name), cases in query_sets.items():
        filters = FILTERS[filter_name]
        queries_only = [query for query, _ in cases]
        barrier = threading.Barrier(clients + 1)
        errors = []

        def client(offset: int, queries_only=queries_only, filters=filters, barrier=barrier, errors=errors) -> None:
            try:
                mine = queries_only[offset:] + queries_only[:offset]
                chunk_search_with_plan(game="bench", embedding=mine[0], model_name=MODEL, k=K, plan=plan, **filters)
                barrier.wait()
                for query in mine:
                    chunk_search_with_plan(game="bench", embedding=query, model_name=MODEL, k=K, plan=plan, **filters)
            except Exception as error:  # reported after the run
                errors.append(error)
                barrier.abort()
            finally:
                connection.close()

        step = max(1, len(queries_only) // clients)
        threads = [threading.Thread(target=client, args=(i * step,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        rates[(filter_name, set_name)] = round(clients * len(queries_only) / elapsed, 1)
        print(f"  {filter_name:>5} {set_name:<4} {plan} {clients} clients: {rates[(filter_name, set_name)]:7.1f} q/s",
              flush=True)  # fmt: skip
    return rates


def table(results: list[dict]) -> str:
    plans = list(dict.fromkeys(r["plan"] for r in results))
    client_counts = sorted({int(key) for r in results for key in r.get("qps", {})})
    head = (
        "| filter | queries | "
        + " | ".join(f"{p} recall, p50/p95 ms" for p in plans)
        + "".join(f" | auto q/s, {c} clients" for c in client_counts)
        + " | auto's path |"
    )
    lines = [head, "|" + "---|" * (len(plans) + len(client_counts) + 3)]
    cases = list(dict.fromkeys((r["filter"], r["queries"]) for r in results))
    for filter_name, set_name in cases:
        cells, auto_paths, rates = [], "", []
        for plan in plans:
            row = next(r for r in results if (r["filter"], r["queries"], r["plan"]) == (filter_name, set_name, plan))
            short = f", {row['fewer_than_k']} short" if row["fewer_than_k"] else ""
            spread = row.get("p95_spread") if plan == "auto" and row.get("runs", 1) > 1 else None
            p95 = f"{row['p95_ms']:.1f} ({spread[0]:.1f}-{spread[1]:.1f})" if spread else f"{row['p95_ms']:.1f}"
            cells.append(f"{row['recall_at_5']:.3f}, {row['p50_ms']:.1f}/{p95}{short}")
            if plan == "auto":
                auto_paths = ", ".join(f"{k} {v}" for k, v in row["paths"].items())
                rates = [f"{row['qps'][str(c)]:.0f}" if str(c) in row.get("qps", {}) else "-" for c in client_counts]
        cells += rates
        lines.append(f"| {filter_name} | {set_name} | " + " | ".join(cells) + f" | {auto_paths} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100, help="queries per filter and query set")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--plans",
        default="auto,hnsw,hnsw@200,hnsw@400,exact,baseline",
        help="auto, exact, baseline, hnsw or hnsw@<ef_search>",
    )
    parser.add_argument(
        "--db-dir",
        help="keep the database in this directory and reuse it when it already holds --rows chunks "
        "(saves the build between runs; a new migration's indexes are then built by migrate)",
    )
    parser.add_argument("--clients", default="2,8", help="concurrent clients for the auto plan's queries per second")
    parser.add_argument(
        "--shared-buffers",
        help="PostgreSQL shared_buffers (the embedded server's is 256MB), e.g. 4GB to hold the HNSW index",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of the query sets (medians and spread reported)")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the database, then stop")
    args = parser.parse_args()

    workdir = Path(args.db_dir) if args.db_dir else Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    print(f"starting PostgreSQL in {workdir}")
    server = start_database(workdir, args.shared_buffers)
    try:
        setup_django()
        from django.conf import settings

        dim = settings.EMBEDDING_DIM
        existing = built_rows()
        if existing == args.rows:
            print(f"reusing the {existing:,} chunks in {workdir}")
            build_info = {"reused": True}
        elif existing:
            raise SystemExit(f"{workdir} holds {existing:,} chunks, not {args.rows:,}: use another --db-dir")
        else:
            print(f"building {args.rows:,} chunks of {dim} dimensions in {args.rows // CLUSTER_SIZE:,} clusters")
            build_info = build(args.rows, dim, args.seed)
        build_info["sizes"] = sizes()
        print(f"  {build_info}")
        if args.build_only:
            return
        query_sets = query_sets_with_truth(args.queries, args.seed, workdir if args.db_dir else None)
        plans = args.plans.split(",")
        print("warming the caches (every query once, auto plan)")
        measure(query_sets, ["auto"])
        print(f"measuring ({args.repeats} runs of every query; medians of their p50 and p95)")
        results = measure_repeated(query_sets, plans, args.repeats)
        clients = [int(c) for c in args.clients.split(",") if c] if "auto" in plans else []
        for count in clients:
            print(f"throughput, {count} clients")
            for key, rate in throughput(query_sets, count).items():
                row = next(r for r in results if (r["filter"], r["queries"], r["plan"]) == (*key, "auto"))
                row.setdefault("qps", {})[str(count)] = rate
        settings_used = {name: getattr(settings, name) for name in (
            "RETRIEVAL_EXACT_MAX_ROWS", "RETRIEVAL_HNSW_EF_SEARCH", "RETRIEVAL_HNSW_MAX_SCAN_TUPLES")}  # fmt: skip
        print()
        print(f"{args.rows:,} chunks, k={K}, {settings_used}")
        print(table(results))
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"retrieval-{args.rows}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        report = {"rows": args.rows, "dim": dim, "k": K, "queries": args.queries, "repeats": args.repeats,
                  "settings": settings_used, "build": build_info, "results": results}  # fmt: skip
        out.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {out.relative_to(ROOT)}")
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()


if __name__ == "__main__":
    main()
