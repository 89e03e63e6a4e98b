"""The console in the staff member's language in a real browser: all Korean for a Korean browser, else all English.

Screenshots of the admin index, a changelist and the dashboard in each language go to test-artifacts/
(CI uploads them): admin-<page>-<ko|en>.png.
"""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import translation

from tests.factories import UserFactory

from .test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, PASSWORD, _operations_data, _playwright

PAGES = {
    "index": "/admin/",
    "questionlog-changelist": "/admin/coach/questionlog/",
    "dashboard": "/admin/coach/questionlog/dashboard/",
    # third-party apps' pages that stay in the console (config/console.py)
    "periodictask-changelist": "/admin/django_celery_beat/periodictask/",
    "socialaccount-changelist": "/admin/socialaccount/socialaccount/",
    "group-changelist": "/admin/auth/group/",
}
# Labels of ours on those pages (the Operations box, model and field names, filters, the dashboard),
# in both languages; each page must show the ones of its language and none of the other's.
LABELS = {
    "index": {
        "en": ["Operations", "Dashboard", "Down-voted answers", "Question logs", "Documents", "Coach", "Knowledge"],
        "ko": ["운영", "대시보드", "비추천 답변", "질문 기록", "문서", "코치", "지식 베이스"],
    },
    "questionlog-changelist": {
        "en": ["Created at", "Question", "Latency", "By game", "By plan", "By error", "any error", "Cache"],
        "ko": ["생성 시각", "질문", "지연 시간", "게임 (으)로", "요금제 (으)로", "오류 (으)로", "오류 있음", "캐시"],
    },
    "dashboard": {
        "en": ["Operations dashboard", "LLM cost", "Saved by caches", "Questions per day", "Top games", "Cost by model",
               "Quota rejections by plan (all games)", "exact cache"],
        "ko": ["운영 대시보드", "LLM 비용", "캐시로 절약한 비용", "일별 질문 수", "상위 게임", "모델별 비용",
               "요금제별 한도 초과 거절 (모든 게임)", "정확 일치 캐시"],
    },
    "periodictask-changelist": {
        "en": ["Periodic Tasks", "Enabled", "Scheduler", "Interval Schedule", "Last Run Datetime", "One-off Task"],
        "ko": ["주기 작업", "활성화", "일정", "간격 일정", "최종 작동 일시", "한 번만 실행"],
    },
    "socialaccount-changelist": {
        "en": ["Social Accounts", "User", "Provider"],
        "ko": ["소셜 계정", "사용자", "사용자 식별", "제공자"],
    },
    "group-changelist": {
        "en": ["Authentication and Authorization", "Groups"],
        "ko": ["인증 및 권한", "그룹"],
    },
}  # fmt: skip
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _visible_text(page) -> str:
    # What the staff member reads: the page's text and the charts' titles, legends and labels.
    return page.locator("body").inner_text() + " ".join(page.locator("svg text, svg title").all_text_contents())


def _admin_names(language: str) -> set[str]:
    """Every app and model name the admin index lists, in that language."""
    with translation.override(language):
        return {
            str(name)
            for model in admin.site._registry
            for name in (apps.get_app_config(model._meta.app_label).verbose_name, model._meta.verbose_name_plural)
        }


def _has(text: str, label: str) -> bool:
    # Case aside: the admin's CSS shows captions in capitals (OPERATIONS), and inner_text reads them so.
    return re.search(rf"(?<![\w가-힣]){re.escape(label.lower())}(?![\w가-힣])", text.lower()) is not None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_korean_browser_gets_the_console_in_korean_and_an_english_one_in_english(live_server):
    sync_playwright = _playwright()
    # given a staff member and two weeks of traffic
    staff = UserFactory(username="opsadmin", is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    _operations_data()
    # a group, a linked Google identity (beat's schedule is back after the flush: config.beat)
    Group.objects.create(name="staff")
    SocialAccount.objects.create(user=staff, provider="google", uid="2001", extra_data={"email": "kim@studio.kr"})
    ARTIFACTS.mkdir(exist_ok=True)

    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for language, locale in (("ko", "ko-KR"), ("en", "en-US")):
                # when they sign in from a browser set to that language and open each page
                page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale=locale)
                page.goto(f"{live_server.url}/admin/login/?next=/admin/")
                page.fill("#id_username", "opsadmin")
                page.fill("#id_password", PASSWORD)
                page.click("input[type=submit]")
                page.wait_for_url(re.compile(r"/admin/$"))
                for name, path in PAGES.items():
                    page.goto(f"{live_server.url}{path}")
                    page.wait_for_load_state("networkidle")
                    shot = ARTIFACTS / f"admin-{name}-{language}.png"
                    page.screenshot(path=str(shot), full_page=name != "questionlog-changelist")  # 50 rows: the top
                    seen[name, language] = (page.locator("html").get_attribute("lang"), _visible_text(page))
                    if name == "index":
                        # the Operations links keep their words on one line (they wrapped a letter a line)
                        link = page.locator("#operations th a").first
                        line = link.evaluate("a => parseFloat(getComputedStyle(a).lineHeight)")
                        seen["link-height", language] = link.bounding_box()["height"] / line
                page.close()
        finally:
            browser.close()

    # then each page speaks the browser's language, with none of the other language's labels
    for name in PAGES:
        for language, other in (("ko", "en"), ("en", "ko")):
            lang, text = seen[name, language]
            assert lang == language, name
            assert [label for label in LABELS[name][language] if not _has(text, label)] == [], (name, language)
            assert [label for label in LABELS[name][other] if _has(text, label)] == [], (name, language)
        # and the English console has no Hangul at all but the players' own questions and answers
        _, english = seen[name, "en"]
        assert not HANGUL.search(english.replace("말레니아 2페이즈 어떻게 피해요?", "")), name
    # and the Korean index names every app and model in Korean, third-party ones included (config/console.py);
    # the pages taken out of the console are not listed in either language
    _, korean_index = seen["index", "ko"]
    _, english_index = seen["index", "en"]
    english_names = _admin_names("en") - _admin_names("ko")  # "ID"-like names that read the same are no English
    assert [name for name in sorted(english_names) if _has(korean_index, name)] == []
    assert [name for name in sorted(_admin_names("en")) if not _has(english_index, name)] == []
    removed = ["Sites", "Email addresses", "Social applications", "Outstanding Tokens", "Blacklisted Tokens", "Clocked"]
    assert [name for name in removed if _has(english_index, name)] == []
    assert seen["link-height", "ko"] < 1.5 and seen["link-height", "en"] < 1.5
