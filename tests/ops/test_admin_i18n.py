"""The console's own pages, actions and messages follow the staff member's browser language (no browser needed)."""

import pytest
from django.test import Client

from dev.demo.loader import demo_load
from knowledge.models import Document

pytestmark = pytest.mark.django_db
KO, EN = "ko-KR,ko;q=0.9,en;q=0.5", "en-US,en;q=0.9"


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def _publish(staff, language: str) -> str:
    document = Document.objects.order_by("pk").first()
    response = staff.post(
        "/admin/knowledge/document/",
        {"action": "publish", "_selected_action": [document.pk]},
        follow=True,
        headers={"Accept-Language": language},
    )
    return response.content.decode()


def test_an_action_reports_in_the_staff_members_language(staff):
    demo_load()
    korean, english = _publish(staff, KO), _publish(staff, EN)

    assert "문서 1개를 게시했습니다." in korean and "document published" not in korean
    assert "1 document published." in english and "게시했습니다" not in english


def test_model_field_and_choice_names_come_from_the_catalogue(staff):
    demo_load()
    korean = staff.get("/admin/knowledge/document/", headers={"Accept-Language": KO}).content.decode()
    english = staff.get("/admin/knowledge/document/", headers={"Accept-Language": EN}).content.decode()

    # the list's columns (field names), its filter's choices and the action (our own strings)
    for text in ("제목", "출처 종류", "게시됨", "선택한 문서 게시"):
        assert text in korean
    for text in ("Title", "Source kind", "Published", "Publish selected documents"):
        assert text in english and text not in korean


def test_a_browser_asking_for_neither_language_gets_english(staff):
    page = staff.get("/admin/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).content.decode()
    assert '<html lang="en"' in page and "Down-voted answers" in page and "비추천 답변" not in page
