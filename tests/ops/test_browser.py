"""The operations console in a real browser: headless Debian chromium driven by Playwright against a live server.

Screenshots go to test-artifacts/ (CI uploads them). bin/_bootstrap installs chromium when it runs
as root; the test is skipped only where chromium cannot be had, and never in CI.
"""

import os
import random
import re
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from coach.models import Feedback
from coach.services.stats import daily_stats_refresh, quota_rejection_count
from knowledge.models import Chunk
from tests.factories import UserFactory

from .conftest import log_at

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PASSWORD = "correct-horse-battery-staple"


def _playwright():
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = "Debian's chromium is not installed (bin/_bootstrap installs it when run as root)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or "the playwright package is not installed (requirements.lock pins it)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


def _operations_data() -> None:
    """A fortnight of asks on the demo knowledge, a few down-votes, quota rejections; most days rolled up."""
    from dev.demo.loader import demo_load

    demo_load()
    chunks = list(Chunk.objects.filter(searchable=True).select_related("document")[:6])
    rng = random.Random(11)
    now = timezone.now()
    player = UserFactory()
    for n in range(260):
        chunk = rng.choice(chunks)
        game = chunk.document.game.slug
        cache = rng.choices(["none", "exact", "semantic"], weights=[6, 1, 2])[0]
        error = "ai_timeout" if n % 37 == 0 else ""
        model = rng.choice(["gpt-4o-mini", "gpt-4o-mini", "o4-mini"])
        cost = Decimal(rng.randrange(50_000, 600_000)) / Decimal(100_000_000)
        log = log_at(
            now - timedelta(days=rng.randrange(14), hours=rng.randrange(24)),
            user=player,
            game=game,
            model=model,
            plan="basic_special" if model == "o4-mini" else rng.choice(["free", "basic"]),
            cache=cache,
            error_code=error,
            cost_usd=0 if cache != "none" or error else cost,
            saved_usd=cost if cache != "none" else 0,
            latency_ms=rng.randrange(5, 120) if cache != "none" else int(rng.lognormvariate(7.4, 0.5)),
            sources=[
                {"document_id": chunk.document_id, "title": chunk.document.title, "url": "", "chunk_id": chunk.pk}
            ],
        )
        if n % 23 == 0 and not error:
            Feedback.objects.create(answer=log, user=player, rating="down", comment="답이 틀렸어요")
    for n in range(9):
        quota_rejection_count(plan="free" if n % 3 else "basic", at=now - timedelta(days=n % 5))
    daily_stats_refresh(now=now)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_staff_log_in_and_see_the_dashboard_and_the_retrieval_test(live_server):
    sync_playwright = _playwright()
    # given a staff member with a password and two weeks of traffic
    staff = UserFactory(username="opsadmin", is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    _operations_data()
    ARTIFACTS.mkdir(exist_ok=True)

    # (no database access below: Playwright's sync API runs an event loop in this thread)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            # An English browser: the labels below are the English console's (test_browser_i18n.py has the Korean).
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-US")

            # when they log into the admin with their password
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "opsadmin")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(re.compile(r"/admin/$"))

            # and open the dashboard from the admin's front page
            page.click("#operations >> text=Dashboard")
            page.wait_for_url(re.compile(r"/admin/coach/questionlog/dashboard/"))

            # then every chart is drawn with marks and the figures are shown
            charts = page.locator("svg.chart")
            assert charts.count() == 8
            kinds = {charts.nth(i).get_attribute("data-chart") for i in range(8)}
            assert kinds == {"questions", "cost", "cache-rate", "saved", "latency", "games", "quota", "errors"}
            for kind in ("questions", "cost", "saved", "games", "quota", "errors"):
                assert page.locator(f'svg[data-chart="{kind}"] rect.bar').count() > 0, kind
            for kind in ("cache-rate", "latency"):
                assert page.locator(f'svg[data-chart="{kind}"] polyline.line').count() == 2, kind
            assert page.locator('[data-kpi="questions"] .value').inner_text() == "260"
            assert re.fullmatch(r"\$\d+\.\d{2,4}", page.locator('[data-kpi="cost"] .value').inner_text())
            assert re.fullmatch(r"\d+\.\d%", page.locator('[data-kpi="semantic"] .value').inner_text())
            assert re.fullmatch(r"[\d,]+ ms", page.locator('[data-kpi="p95"] .value').inner_text())
            assert page.locator('[data-kpi="quota"] .value').inner_text() == "9"
            box = page.locator('svg[data-chart="questions"]').bounding_box()
            assert box["width"] > 400 and box["height"] > 150  # laid out, not collapsed
            page.screenshot(path=str(ARTIFACTS / "admin-dashboard.png"), full_page=True)

            # and filtering by one game narrows it
            page.fill("#id_game", "league-of-legends")
            page.click(".ops-filter input[type=submit]")
            page.wait_for_url(re.compile(r"game=league-of-legends"))
            games = page.locator('svg[data-chart="games"] text.ylabel')
            assert [games.nth(i).text_content() for i in range(games.count())] == ["league-of-legends"]

            # and the down-vote queue opens on a down-voted answer, side by side with its sources
            page.goto(f"{live_server.url}/admin/coach/feedback/")
            queued = page.locator("#result_list tbody tr").count()
            assert queued > 0
            page.screenshot(path=str(ARTIFACTS / "admin-feedback-queue.png"), full_page=True)
            page.locator("#result_list tbody tr th a").first.click()
            page.wait_for_selector(".answer-panel")
            assert page.locator(".answer-panel section").count() == 3
            assert page.locator(".answer-panel blockquote.chunk").count() >= 1
            assert page.locator(".answer-panel a.open-document").count() >= 1
            page.screenshot(path=str(ARTIFACTS / "admin-feedback-queue-item.png"), full_page=True)

            # and evicting it from the semantic cache takes it off the queue
            page.click("button[value=evict_answers]")
            page.wait_for_selector("ul.messagelist")
            assert "Evicted 1 answer(s)" in page.locator("ul.messagelist").inner_text()
            assert page.locator("#result_list tbody tr").count() == queued - 1

            # and the retrieval test returns chunks for a question
            page.goto(f"{live_server.url}/admin/knowledge/document/retrieval-test/")
            page.fill("textarea[name=question]", "말레니아 2페이즈 물새 난무 어떻게 피해요?")
            page.select_option("select[name=game]", "elden-ring")
            page.click("input[type=submit][value=Search]")
            page.wait_for_selector("#retrieval-hits")
            rows = page.locator("#retrieval-hits tbody tr")
            assert rows.count() >= 1
            assert "말레니아" in page.locator("#retrieval-hits").inner_text()
            assert re.search(r"\d+ chunks?\b", page.locator("#retrieval-plan").inner_text())
            page.screenshot(path=str(ARTIFACTS / "admin-retrieval-test.png"), full_page=True)
        finally:
            browser.close()
