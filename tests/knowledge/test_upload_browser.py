"""The admin upload in a real browser (headless chromium via Playwright), ingested by a real Celery worker."""

import re

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app as celery_app
from knowledge.models import Document
from tests.factories import UserFactory
from tests.ops.test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, PASSWORD, _playwright

SRT = "1\n00:00:01,000 --> 00:00:04,000\n쓰레쉬 Q 적중 후 플래시로 붙으세요.\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_staff_upload_several_files_and_see_them_land_with_their_titles(live_server, elden_ring, tmp_path):
    sync_playwright = _playwright()
    # given a staff member and a folder of guides, one of them not UTF-8
    staff = UserFactory(username="curator", is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    files = {
        "malenia-phase-2.md": "# 말레니아 2페이즈 공략\n\n개화는 달려서 피하세요.".encode(),
        "radahn.html": b"<html><head><title>Radahn festival</title></head><body><p>Ride away.</p></body></html>",
        "malenia-video.srt": SRT.encode(),
        "old-notes.txt": "Malenia est très rapide".encode("latin-1"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    ARTIFACTS.mkdir(exist_ok=True)
    celery_app.control.purge()
    queues = [celery_app.conf.task_default_queue]
    with (
        start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20, queues=queues),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-US")
            page.goto(f"{live_server.url}/admin/login/?next=/admin/knowledge/uploadbatch/add/")
            page.fill("#id_username", "curator")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(re.compile(r"/uploadbatch/add/$"))

            # when they pick the files, the game, a category and tags, and upload
            page.set_input_files("input[name=files]", [str(tmp_path / name) for name in files])
            page.select_option("select[name=game]", "elden-ring")
            page.fill("input[name=category]", "boss")
            page.fill("input[name=tags]", "malenia")
            page.screenshot(path=str(ARTIFACTS / "admin-upload-form.png"), full_page=True)
            page.click("#upload-form input[type=submit]")
            page.wait_for_url(re.compile(r"/uploadbatch/\d+/change/$"))

            # then the batch page refreshes itself until the worker has ingested and embedded them
            page.wait_for_selector('#upload-progress[data-in-progress="false"]', timeout=90_000)
            table = page.locator(".inline-group").inner_text()
            for title in ("말레니아 2페이즈 공략", "Radahn festival", "쓰레쉬 Q 적중"):
                assert title in table, title
            assert table.count("ready: 1 chunks") == 3
            # and the file that is not UTF-8 says so on its own row
            error = page.locator(".upload-error").inner_text()
            assert "old-notes.txt" in error and "not UTF-8" in error
            assert "3 of 4 ingested, 1 failed" in page.locator(".field-file_counts").inner_text()
            page.screenshot(path=str(ARTIFACTS / "admin-upload-batch.png"), full_page=True)
        finally:
            browser.close()
    assert Document.objects.filter(game=elden_ring, status="published").count() == 3
