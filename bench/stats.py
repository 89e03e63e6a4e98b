"""Bench: the operations dashboard and GET /api/admin/stats over a million question logs.

Starts its own PostgreSQL+pgvector and Valkey (dev.embedded, in a temporary directory, on free
ports), migrates, bulk-inserts synthetic QuestionLog rows spread over the last --days days, then
times, each the median of several runs:
  - the stats for 30 days summed straight from the logs (no rollup yet: the worst case),
  - the beat task rolling every finished day up into DailyStat,
  - the stats for 30 and 90 days with the rollup (today still read from the logs),
  - the full stack: GET /api/admin/stats as a staff JWT, the dashboard page, the question log list.

    .venv/bin/python bench/stats.py               # 1,000,000 rows over 60 days
    .venv/bin/python bench/stats.py --rows 200000 --days 30
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GAMES = ["elden-ring", "league-of-legends", "valorant", "lost-ark", "maplestory", "battlegrounds", "fc-online", "tft"]
BATCH = 100_000


def _start_servers(workdir: Path) -> list:
    from dev import embedded

    pg = embedded.postgres_start(workdir / "pg", embedded.free_port(), fsync=False)
    valkey = embedded.valkey_start(workdir / "valkey", embedded.free_port(), persist=False)
    os.environ["DATABASE_URL"] = embedded.postgres_create_database(pg, "gamecoach")
    os.environ["REDIS_URL"] = valkey.url
    os.environ["CELERY_BROKER_URL"] = valkey.url.rsplit("/", 1)[0] + "/1"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(workdir / "tiktoken")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return [valkey, pg]


def _insert_logs(rows: int, days: int) -> float:
    """rows synthetic asks spread over the last `days` days, in one INSERT ... SELECT per batch."""
    from django.db import connection

    games = "ARRAY[" + ",".join(f"'{g}'" for g in GAMES) + "]"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for offset in range(0, rows, BATCH):
            count = min(BATCH, rows - offset)
            cursor.execute(
                f"""
                INSERT INTO coach_questionlog (
                    id, game, category, tags, plan, question, answer, sources, model, prompt_tokens,
                    completion_tokens, cached_tokens, reasoning_tokens, cost_usd, saved_usd, cache,
                    latency_ms, stage_ms, error_code, error, created_at)
                SELECT gen_random_uuid(), g.game, 'boss', '[]'::jsonb, g.plan,
                       'synthetic question ' || n || ' 말레니아 2페이즈 어떻게 피해요?',
                       repeat('물새 난무는 뒤로 달려서 거리를 벌린 뒤 구르세요. ', 8),
                       '[{{"document_id": 1, "title": "guide", "url": "", "chunk_id": 1}}]'::jsonb,
                       CASE WHEN g.plan = 'basic_special' THEN 'o4-mini' ELSE 'gpt-4o-mini' END,
                       g.prompt, g.completion, 0, 0,
                       CASE WHEN g.cache = 'none' AND g.error = '' THEN round((g.prompt * 0.15 + g.completion * 0.6)
                            / 1000000.0, 8) ELSE 0 END,
                       CASE WHEN g.cache <> 'none' THEN round((g.prompt * 0.15 + g.completion * 0.6) / 1000000.0, 8)
                            ELSE 0 END,
                       g.cache,
                       CASE WHEN g.cache = 'exact' THEN 3 + (random() * 20)::int
                            WHEN g.cache = 'semantic' THEN 40 + (random() * 120)::int
                            ELSE least(120000, exp(random_normal(7.3, 0.55)))::int END,
                       '{{}}'::jsonb, g.error, '', g.created_at
                FROM (
                    SELECT n,
                           ({games})[1 + floor(power(random(), 2) * {len(GAMES)})::int] AS game,
                           (ARRAY['free', 'free', 'basic', 'basic_special'])[1 + floor(random() * 4)::int] AS plan,
                           (ARRAY['none', 'none', 'none', 'none', 'none', 'none', 'none', 'exact', 'semantic',
                                  'semantic'])[1 + floor(random() * 10)::int] AS cache,
                           CASE WHEN random() < 0.02 THEN 'ai_timeout' ELSE '' END AS error,
                           300 + (random() * 1500)::int AS prompt,
                           100 + (random() * 700)::int AS completion,
                           now() - random() * interval '{days} days' AS created_at
                    FROM generate_series(%s, %s) AS n
                ) AS g
                """,  # noqa: S608 - only our constants are formatted in
                [offset + 1, offset + count],
            )
            print(f"  inserted {offset + count:>9,} rows", end="\r", flush=True)
        cursor.execute("ANALYZE coach_questionlog")
    print()
    return time.perf_counter() - started


def _median_ms(func, runs: int) -> float:
    func()  # warm: connection, plans, imports
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gamecoach-bench-stats-"))
    servers = _start_servers(workdir)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client
        from django.utils import timezone
        from rest_framework.test import APIClient
        from rest_framework_simplejwt.tokens import RefreshToken

        from accounts.models import User
        from coach.models import DailyStat, QuestionLog
        from coach.services.stats import daily_stats_refresh, quota_rejection_count
        from coach.stats import stats_summary

        call_command("migrate", verbosity=0)
        print(f"inserting {args.rows:,} question logs over {args.days} days ...")
        insert_s = _insert_logs(args.rows, args.days)
        for n in range(500):
            quota_rejection_count(plan=("free", "basic")[n % 2], at=timezone.now() - timedelta(hours=n))
        today = timezone.localdate()
        month = {"date_from": today - timedelta(days=29), "date_to": today}
        quarter = {"date_from": today - timedelta(days=89), "date_to": today}
        print(f"inserted in {insert_s:.1f} s")
        results: list[tuple[str, float]] = []

        live = _median_ms(lambda: stats_summary(**month), max(1, args.runs // 2))
        results.append(("stats 30 days, no rollup (logs only)", live))
        live_game = _median_ms(lambda: stats_summary(**month, game="valorant"), max(1, args.runs // 2))
        results.append(("stats 30 days, one game, no rollup", live_game))

        started = time.perf_counter()
        rolled = 0
        while batch := daily_stats_refresh():
            rolled += len(batch)
        rollup_ms = (time.perf_counter() - started) * 1000
        results.append((f"beat rollup of {rolled} finished days (total)", rollup_ms))
        results.append(("  per day", rollup_ms / max(rolled, 1)))

        results.append(("stats 30 days, rollup + today", _median_ms(lambda: stats_summary(**month), args.runs)))
        results.append(("stats 90 days, rollup + today", _median_ms(lambda: stats_summary(**quarter), args.runs)))
        results.append(
            ("stats 30 days, one game, rollup", _median_ms(lambda: stats_summary(**month, game="valorant"), args.runs))
        )

        staff = User.objects.create_user("bench-staff", password="bench", is_staff=True, is_superuser=True)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(staff).access_token}")

        def api_get():
            response = api.get("/api/admin/stats")
            assert response.status_code == 200, response.content

        browser = Client()
        browser.force_login(staff)

        def page(url):
            def get():
                response = browser.get(url)
                assert response.status_code == 200, response.status_code

            return get

        pages = [
            ("GET /api/admin/stats (30 days, JWT, full stack)", api_get),
            ("admin dashboard page (30 days, 8 SVG charts)", page("/admin/coach/questionlog/dashboard/")),
            ("admin question log list, page 1", page("/admin/coach/questionlog/")),
            ("admin question log list, game + error filter", page("/admin/coach/questionlog/?game=valorant&error=any")),
        ]
        results += [(name, _median_ms(get, args.runs)) for name, get in pages]

        check = stats_summary(**month)["totals"]
        print()
        print(f"question logs: {QuestionLog.objects.count():,}   DailyStat rows: {DailyStat.objects.count():,}")
        print(f"30-day totals: {check['questions']:,} questions, ${check['cost_usd']} cost, "
              f"p50 {check['latency_p50_ms']} ms, p95 {check['latency_p95_ms']} ms")  # fmt: skip
        print()
        print(f"{'measure':<52} {'ms':>10}")
        for name, ms in results:
            print(f"{name:<52} {ms:>10.1f}")
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
