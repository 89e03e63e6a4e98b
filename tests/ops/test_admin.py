"""The operations console in the admin: dashboard, question logs side by side, the down-vote queue."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.utils import timezone

from ai.embeddings import get_embedder
from coach.models import Feedback, FeedbackReview, QuestionLog
from coach.services.cache import asemantic_cache_lookup, asemantic_cache_store
from coach.services.feedback import feedback_submit
from knowledge.services.documents import document_create
from knowledge.services.games import game_create_or_update
from tests.factories import UserFactory

from .conftest import log_at

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/coach/questionlog/dashboard/"


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def document(db):
    game = game_create_or_update(slug="elden-ring", name_ko="엘든 링", name_en="Elden Ring", categories=["boss"])
    return document_create(
        game=game,
        title="말레니아 2페이즈 공략",
        content="물의 칼날은 세 번 연속으로 온다. 첫 타격 직후 뒤로 크게 구르면 나머지 두 번을 피할 수 있다.",
        category="boss",
        status="published",
        sync=True,
    )


def answered_log(document, **fields):
    chunk = document.chunks.first()
    sources = [{"document_id": document.pk, "title": document.title, "url": "", "chunk_id": chunk.pk}]
    return log_at(timezone.now(), sources=sources, **fields)


# --- dashboard ------------------------------------------------------------------------------------------


def test_the_admin_index_links_to_the_dashboard(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert f'href="{DASHBOARD}"' in page


def test_the_dashboard_draws_every_chart_with_the_numbers(admin_client):
    now = timezone.now()
    log_at(now, cost_usd=Decimal("0.5"), latency_ms=900)
    log_at(now, cache="semantic", cost_usd=0, saved_usd=Decimal("0.25"), latency_ms=80)
    log_at(now, error_code="ai_timeout", cost_usd=0)

    page = admin_client.get(DASHBOARD).content.decode()

    charts = set(re.findall(r'<svg class="chart" data-chart="([a-z-]+)"', page))
    assert charts == {"questions", "cost", "cache-rate", "saved", "latency", "games", "quota", "errors"}
    assert re.search(r'data-kpi="questions"><div class="label">Questions</div><div class="value">3<', page)
    assert re.search(r'data-kpi="cost">.*?\$0\.5000<', page)
    assert re.search(r'data-kpi="semantic">.*?50\.0%<', page)
    assert "ai_timeout" in page
    assert page.count('class="bar"') >= 3


def test_the_dashboard_filters_by_game_and_dates(admin_client):
    log_at(datetime(2025, 3, 2, 3, 0, tzinfo=UTC), game="valorant")
    log_at(datetime(2025, 3, 2, 3, 0, tzinfo=UTC), game="elden-ring")

    page = admin_client.get(DASHBOARD, {"from": "2025-03-01", "to": "2025-03-03", "game": "valorant"}).content.decode()

    assert re.search(r'data-kpi="questions">.*?<div class="value">1<', page)
    assert "2025-03-01 to 2025-03-03" in page


def test_a_bad_dashboard_filter_says_so_and_shows_the_last_30_days(admin_client):
    response = admin_client.get(DASHBOARD, {"from": "2025-03-09", "to": "2025-03-01"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "must not be after" in page
    today = timezone.localdate()
    assert f"{today - timedelta(days=29)} to {today}" in page


def test_the_dashboard_is_for_staff_with_the_view_permission(client):
    player = UserFactory()
    client.force_login(player)
    assert client.get(DASHBOARD).status_code == 302  # to the admin login

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(DASHBOARD).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_questionlog"))
    assert client.get(DASHBOARD).status_code == 200


# --- question logs --------------------------------------------------------------------------------------


def test_question_logs_list_cost_and_latency_and_filter_by_each_dimension(admin_client):
    now = timezone.now()
    log_at(now, question="free question", cost_usd=Decimal("0.00225"), latency_ms=1834)
    log_at(now, question="paid question", plan="basic_special", model="o4-mini", game="league-of-legends")
    log_at(now, question="cached question", cache="exact", cost_usd=0)
    log_at(now, question="failed question", error_code="ai_timeout")

    def listed(**params) -> set[str]:
        page = admin_client.get("/admin/coach/questionlog/", params).content.decode()
        return {q for q in ("free", "paid", "cached", "failed") if f"{q} question" in page}

    page = admin_client.get("/admin/coach/questionlog/").content.decode()
    assert "$0.00225" in page and "1,834 ms" in page
    assert listed(game="league-of-legends") == {"paid"}
    assert listed(plan="basic_special") == {"paid"}
    assert listed(model="o4-mini") == {"paid"}
    assert listed(cache="exact") == {"cached"}
    assert listed(error="any") == {"failed"}
    assert listed(error="none") == {"free", "paid", "cached"}
    assert listed(q="cached") == {"cached"}
    assert listed(created_at__gte=(now + timedelta(days=1)).isoformat()) == set()


def test_a_log_opens_to_question_answer_and_sources_side_by_side(admin_client, document):
    log = answered_log(document, answer="첫 타격 직후 뒤로 구르세요.")

    page = admin_client.get(f"/admin/coach/questionlog/{log.pk}/change/").content.decode()

    panel = page[page.index('class="answer-panel"') :]
    assert panel.index("Question") < panel.index("Answer") < panel.index("Sources (1)")
    assert log.question in panel and "첫 타격 직후 뒤로 구르세요." in panel
    assert "물의 칼날은 세 번 연속으로 온다." in panel  # the chunk's own text
    assert f'href="/admin/knowledge/document/{document.pk}/change/"' in panel


# --- the down-vote queue --------------------------------------------------------------------------------


def test_the_feedback_page_opens_on_unreviewed_down_votes(admin_client, document, user):
    disliked = answered_log(document, question="wrong boss answer")
    liked = answered_log(document, question="helpful answer")
    reviewed = answered_log(document, question="checked answer")
    for log, rating in ((disliked, "down"), (liked, "up"), (reviewed, "down")):
        feedback_submit(user=user, answer=log, rating=rating, comment="틀렸어요" if rating == "down" else "")
    admin_client.post(
        "/admin/coach/feedback/",
        {"action": "dismiss", "_selected_action": [Feedback.objects.get(answer=reviewed).pk]},
    )

    queue = admin_client.get("/admin/coach/feedback/").content.decode()
    everything = admin_client.get("/admin/coach/feedback/", {"queue": "all"}).content.decode()

    assert "wrong boss answer" in queue and "helpful answer" not in queue and "checked answer" not in queue
    assert all(q in everything for q in ("wrong boss answer", "helpful answer", "checked answer"))


def test_a_down_vote_shows_question_answer_and_the_chunks_used(admin_client, document, user):
    log = answered_log(document, answer="뒤로 구르세요.")
    feedback = feedback_submit(user=user, answer=log, rating="down", comment="두 번째 타격에 맞았어요")

    page = admin_client.get(f"/admin/coach/feedback/{feedback.pk}/change/").content.decode()

    assert "두 번째 타격에 맞았어요" in page
    assert "물의 칼날은 세 번 연속으로 온다." in page
    assert "open the document to fix it" in page


def test_evicting_a_down_voted_answer_removes_it_from_the_semantic_cache(admin_client, document, user):
    # given an answer the semantic cache would serve for the same question
    log = answered_log(document, question="말레니아 물의 칼날 피하는 법")
    embedder = get_embedder()
    embedding = embedder.embed([log.question])[0]
    scope = {"game": log.game, "question": log.question, "embedding": embedding, "model_name": embedder.model_name}
    store, lookup = async_to_sync(asemantic_cache_store), async_to_sync(asemantic_cache_lookup)
    assert store(**scope, payload={"answer": log.answer}, document_ids=[document.pk], answer_id=log.pk)
    assert lookup(**scope) is not None
    # and a player down-voted it, then changed their mind, so the entry is back in the cache
    feedback = Feedback.objects.create(answer=log, user=user, rating="down")

    # when staff evict it from the queue
    response = admin_client.post(
        "/admin/coach/feedback/", {"action": "evict_answers", "_selected_action": [feedback.pk]}, follow=True
    )

    # then it is gone from the cache and out of the queue
    assert "Evicted 1 answer(s): 1 semantic cache entries dropped." in response.content.decode()
    assert lookup(**scope) is None
    review = FeedbackReview.objects.get(feedback=feedback)
    assert review.action == "evicted"
    assert "말레니아 물의 칼날 피하는 법" not in admin_client.get("/admin/coach/feedback/").content.decode()


def test_a_new_down_vote_after_a_review_reopens_it(admin_client, document, user):
    log = answered_log(document, question="reopened answer")
    feedback = feedback_submit(user=user, answer=log, rating="down")
    admin_client.post("/admin/coach/feedback/", {"action": "dismiss", "_selected_action": [feedback.pk]})
    assert "reopened answer" not in admin_client.get("/admin/coach/feedback/").content.decode()

    feedback_submit(user=user, answer=log, rating="up")
    feedback_submit(user=user, answer=log, rating="down", comment="still wrong")

    assert "reopened answer" in admin_client.get("/admin/coach/feedback/").content.decode()


def test_logs_are_records_that_the_admin_cannot_add_or_change(admin_client):
    log = log_at(timezone.now())

    assert admin_client.get("/admin/coach/questionlog/add/").status_code == 403
    before = QuestionLog.objects.get(pk=log.pk).question
    admin_client.post(f"/admin/coach/questionlog/{log.pk}/change/", {"question": "edited"})
    assert QuestionLog.objects.get(pk=log.pk).question == before


def test_a_down_vote_is_reviewed_from_its_own_page(admin_client, document, user):
    log = answered_log(document, question="page review answer")
    feedback = feedback_submit(user=user, answer=log, rating="down")

    page = admin_client.get(f"/admin/coach/feedback/{feedback.pk}/change/").content.decode()
    form = page[page.index('<form id="feedback-review"') :]
    assert 'action="/admin/coach/feedback/"' in form and f'name="_selected_action" value="{feedback.pk}"' in form
    assert 'form="feedback-review" name="action" value="dismiss"' in page
    assert 'name="_save"' not in page  # nothing here to edit

    admin_client.post("/admin/coach/feedback/", {"action": "dismiss", "_selected_action": [feedback.pk]})
    assert FeedbackReview.objects.get(feedback=feedback).action == "dismissed"


def test_the_unfiltered_log_list_counts_by_the_planners_estimate(admin_client, monkeypatch):
    # given a "large" table (the threshold lowered) whose statistics are three rows old
    from django.db import connection

    from coach.admin.question_logs import EstimatedCountPaginator

    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 1)
    for n in range(3):
        log_at(timezone.now(), question=f"old question {n}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE coach_questionlog")
    for n in range(2):
        log_at(timezone.now(), question=f"new question {n}", game="valorant")

    # then the whole list shows the estimate, a filtered one the exact count
    assert ">3 question logs<" in admin_client.get("/admin/coach/questionlog/").content.decode().replace("\n", "")
    filtered = admin_client.get("/admin/coach/questionlog/", {"game": "valorant"}).content.decode()
    assert ">2 question logs<" in filtered.replace("\n", "")
