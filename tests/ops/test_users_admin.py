"""Users in the admin: plan, calls this period, last question, and plan overrides granted and ended by staff."""

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import PlanOverride, Subscription
from billing.selectors import user_plan
from billing.services import plan_override_grant, quota_reserve
from tests.factories import UserFactory

from .conftest import log_at

pytestmark = pytest.mark.django_db
USERS = "/admin/accounts/user/"
INLINE = "plan_overrides"


@pytest.fixture
def admin_client(client, staff_user) -> Client:
    client.force_login(staff_user)
    return client


def user_page(user) -> str:
    return f"{USERS}{user.pk}/change/"


def spend(user, calls: int) -> None:
    for _ in range(calls):
        quota_reserve(user=user)


def grant(user, staff, plan="basic", note="CS-1042: charged twice", **fields) -> PlanOverride:
    return plan_override_grant(user=user, plan=plan, note=note, created_by=staff, **fields)


class _FormReader(HTMLParser):
    """What a browser submits for one <form>: its inputs, checked boxes, selected options, textareas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, []
        self._select = self._textarea = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "button", "file"}:
            if attrs.get("type") not in {"checkbox", "radio"} or "checked" in attrs:
                self.data.append((name, attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in attrs), []
        elif tag == "option" and self._select:
            self._options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            self.data.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea:
            name, text = self._textarea
            self.data.append((name, text.removeprefix("\n")))
            self._textarea = None


def form_data(html: str, form_id: str = "user_form") -> dict[str, list[str]]:
    reader = _FormReader(form_id)
    reader.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in reader.data:
        data.setdefault(name, []).append(value)
    return data


def submit_user_page(client, user, **changes):
    """Open the user's admin page, fill in `changes` as staff would, and press Save."""
    data = form_data(client.get(user_page(user)).content.decode())
    for name, value in changes.items():
        data[name] = [value]
    return client.post(user_page(user), data)


def new_override_row(plan: str, note: str, expires: str = "", expires_time: str = "") -> dict:
    """The fields of the empty row the inline offers (the first new form after the existing ones)."""
    return {"plan": plan, "note": note, "expires_at_0": expires, "expires_at_1": expires_time}


def fill_new_row(client, user, **row):
    data = form_data(client.get(user_page(user)).content.decode())
    index = int(data[f"{INLINE}-INITIAL_FORMS"][0])
    for field, value in new_override_row(**row).items():
        data[f"{INLINE}-{index}-{field}"] = [value]
    return client.post(user_page(user), data)


def row_of(page: str, username: str) -> str:
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*?>" + re.escape(username) + r"<(?:(?!</tr>).)*</tr>", page, re.S)
    assert match, f"no row for {username}"
    return match.group(0)


# --- the list ------------------------------------------------------------------------------------------------


def test_the_user_list_shows_plan_calls_left_and_the_last_question(admin_client, staff_user):
    # given a free player with 3 calls and two questions, a store subscriber, and a player on an override
    free = UserFactory(username="free_player")
    spend(free, 3)
    log_at(timezone.now() - timedelta(hours=2), user=free, question="옛날 질문")
    newest = log_at(timezone.now() - timedelta(minutes=5), user=free, question="말레니아 2페이즈 어떻게 피해요?")
    paying = UserFactory(username="paying_player")
    Subscription.objects.create(user=paying, plan="basic_special", store="app_store")
    comped = UserFactory(username="comped_player")
    Subscription.objects.create(user=comped, plan="basic")
    grant(comped, staff_user, plan="basic_special")
    spend(comped, 7)

    page = admin_client.get(USERS).content.decode()

    row = row_of(page, "free_player")
    assert ">free<" in row
    assert "3 used, 27 left of 30 a week" in row
    assert f'href="/admin/coach/questionlog/{newest.pk}/change/"' in row
    assert "말레니아 2페이즈 어떻게 피해요?" in row and "옛날 질문" not in row
    row = row_of(page, "paying_player")
    assert ">basic_special<" in row
    assert "0 used, 100 left of 100 a month" in row
    row = row_of(page, "comped_player")
    assert "basic_special <small>(staff override)</small>" in row
    assert "7 used, 93 left of 100 a month" in row


def test_the_user_list_does_not_query_per_user(admin_client, staff_user, django_assert_max_num_queries):
    def add_players(count: int) -> None:
        for n in range(count):
            player = UserFactory()
            Subscription.objects.create(user=player, plan="basic")
            if n % 2:
                grant(player, staff_user, plan="basic_special")
            spend(player, 2)
            log_at(timezone.now(), user=player, question=f"질문 {n}")

    # given a page of 2 players, counted once the admin's caches are warm
    add_players(2)
    admin_client.get(USERS)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(USERS)

    # when the list holds 30 players, then the page needs no more queries than with 2
    add_players(28)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = admin_client.get(USERS).content.decode()
    assert page.count("2 used, ") == 30
    assert page.count("(staff override)") == 1 + 14


def test_a_long_last_question_is_cut_in_the_list(admin_client):
    player = UserFactory(username="wordy_player")
    log_at(timezone.now(), user=player, question="보스 " * 100)
    row = row_of(admin_client.get(USERS).content.decode(), "wordy_player")
    assert "…</a>" in row
    assert "보스 " * 50 not in row


# --- the user's page ---------------------------------------------------------------------------------------


def test_the_user_page_shows_plan_usage_last_question_and_override_history(admin_client, staff_user):
    player = UserFactory()
    spend(player, 4)
    log = log_at(timezone.now(), user=player, question="최고의 정글 동선은?")
    grant(player, staff_user, plan="basic", note="Promotion: patch 14.3 week")

    page = admin_client.get(user_page(player)).content.decode()

    assert "basic <small>(staff override)</small>" in page
    assert "4 used, 196 left of 200 a week" in page
    assert f'href="/admin/coach/questionlog/{log.pk}/change/"' in page
    assert "최고의 정글 동선은?" in page
    assert "Promotion: patch 14.3 week" in page
    assert str(staff_user) in page


def test_staff_grant_an_override_with_a_note_from_the_user_page(admin_client, staff_user):
    # given a free player who used their week
    player = UserFactory()
    spend(player, 30)
    expires = (timezone.localtime() + timedelta(days=14)).replace(second=0, microsecond=0)

    # when staff add an override row with a note and an expiry, and save the user's page
    day, time = expires.strftime("%Y-%m-%d"), expires.strftime("%H:%M:%S")
    response = fill_new_row(admin_client, player, plan="basic", note="CS-2001: lost a week to an outage",
                            expires=day, expires_time=time)  # fmt: skip

    # then it is recorded with who and why, and the player can ask again at once
    assert response.status_code == 302
    override = PlanOverride.objects.get(user=player)
    assert (override.plan, override.note, override.created_by) == ("basic", "CS-2001: lost a week to an outage",
                                                                   staff_user)  # fmt: skip
    assert override.expires_at == expires
    assert user_plan(user=player).name == "basic"
    assert quota_reserve(user=player).remaining == 200 - 31
    assert LogEntry.objects.filter(object_id=str(player.pk), change_message__contains="plan override").exists()


@pytest.mark.parametrize("note", ["", "   "])
def test_an_override_without_a_note_is_refused_with_the_reason(admin_client, note):
    player = UserFactory()

    response = fill_new_row(admin_client, player, plan="basic", note=note)

    assert response.status_code == 200  # the page again, with the error
    assert "errorlist" in response.content.decode()
    assert not PlanOverride.objects.exists()
    assert user_plan(user=player).name == "free"


def test_an_override_to_an_unknown_plan_or_past_expiry_is_refused(admin_client):
    player = UserFactory()
    unknown = fill_new_row(admin_client, player, plan="gold", note="why not")
    past = fill_new_row(admin_client, player, plan="basic", note="late", expires="2020-01-01", expires_time="00:00:00")
    assert unknown.status_code == past.status_code == 200
    assert "gold" in unescape(unknown.content.decode()).split("errorlist", 1)[1]
    assert "must expire in the future" in past.content.decode()
    assert not PlanOverride.objects.exists()


def test_the_plan_choices_are_the_configured_plans(admin_client, settings):
    settings.PLANS_EXTRA = {"premium": {"model": "gpt-4o", "prompt_tokens": 4000, "response_tokens": 1024,
                                        "calls": 300, "period": "month", "rank": 30}}  # fmt: skip
    page = admin_client.get(user_page(UserFactory())).content.decode()
    offered = re.findall(rf'<select name="{INLINE}-0-plan".*?</select>', page, re.S)[0]
    assert re.findall(r'<option value="([^"]*)"', offered) == ["", "free", "basic", "basic_special", "premium"]


def test_saving_the_user_page_without_filling_the_row_adds_nothing(admin_client):
    player = UserFactory()
    response = submit_user_page(admin_client, player, display_name="New Name")
    assert response.status_code == 302
    player.refresh_from_db()
    assert player.display_name == "New Name"
    assert not PlanOverride.objects.exists()


def test_past_overrides_cannot_be_edited_or_deleted_even_by_a_forged_post(admin_client, staff_user):
    # given a player with an override in the history
    player = UserFactory()
    override = grant(player, staff_user, note="original reason")
    page = admin_client.get(user_page(player)).content.decode()
    # then the page offers no field and no delete box for it
    assert f'name="{INLINE}-0-note"' not in page and f'name="{INLINE}-0-DELETE"' not in page

    # when a forged POST tries to change and delete it anyway
    data = form_data(page)
    data.update({f"{INLINE}-0-note": ["rewritten"], f"{INLINE}-0-plan": ["free"], f"{INLINE}-0-DELETE": ["on"]})
    admin_client.post(user_page(player), data)

    # then the row is as it was
    override.refresh_from_db()
    assert (override.note, override.plan) == ("original reason", "basic")
    assert admin_client.get(f"/admin/billing/planoverride/{override.pk}/change/").status_code == 200  # to read
    assert admin_client.get(f"/admin/billing/planoverride/{override.pk}/delete/").status_code == 403
    admin_client.post(f"/admin/billing/planoverride/{override.pk}/change/", {"note": "rewritten"})
    override.refresh_from_db()
    assert override.note == "original reason"


def test_staff_end_an_override_early_and_the_player_is_back_on_their_subscription(admin_client, staff_user):
    # given a store subscriber on basic with a basic_special override
    player = UserFactory()
    Subscription.objects.create(user=player, plan="basic")
    override = grant(player, staff_user, plan="basic_special")
    page = admin_client.get(user_page(player)).content.decode()
    end_url = f"/admin/billing/planoverride/{override.pk}/end/"
    assert f'href="{end_url}"' in page

    # when staff open "End now", then confirm
    confirm = admin_client.get(end_url)
    assert confirm.status_code == 200
    assert "basic_special" in confirm.content.decode()
    assert PlanOverride.objects.get(pk=override.pk).ended_at is None  # looking changes nothing
    response = admin_client.post(end_url)

    # then the override is ended by them, the store plan applies, and the history says so
    assert response.status_code == 302 and response["Location"] == user_page(player)
    override.refresh_from_db()
    assert override.ended_by == staff_user and override.ended_at is not None
    assert user_plan(user=player).name == "basic"
    page = admin_client.get(user_page(player)).content.decode()
    assert f"by {staff_user}" in page
    assert f'href="{end_url}"' not in page


def test_ending_an_override_that_already_ended_changes_nothing(admin_client, staff_user):
    player = UserFactory()
    override = grant(player, staff_user)
    admin_client.post(f"/admin/billing/planoverride/{override.pk}/end/")
    first = PlanOverride.objects.get(pk=override.pk).ended_at
    again = admin_client.post(f"/admin/billing/planoverride/{override.pk}/end/", follow=True)
    assert "already ended" in again.content.decode()
    assert PlanOverride.objects.get(pk=override.pk).ended_at == first


def test_staff_who_may_only_view_cannot_grant_or_end_overrides(staff_user):
    # given staff allowed to view and change users and view overrides, but not to add them
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user",
                                                                         "view_planoverride"]))  # fmt: skip
    client = Client()
    client.force_login(viewer)
    player = UserFactory()
    override = grant(player, staff_user, note="given by someone else")

    page = client.get(user_page(player)).content.decode()
    assert "given by someone else" in page
    assert f'name="{INLINE}-0-note"' not in page and f'name="{INLINE}-1-note"' not in page

    assert client.post(f"/admin/billing/planoverride/{override.pk}/end/").status_code == 403
    override.refresh_from_db()
    assert override.ended_at is None


def test_the_override_audit_list_shows_every_grant(admin_client, staff_user):
    player = UserFactory(username="audited_player")
    ended = grant(player, staff_user, plan="basic", note="first comp")
    admin_client.post(f"/admin/billing/planoverride/{ended.pk}/end/")
    grant(player, staff_user, plan="basic_special", note="second comp")

    page = admin_client.get("/admin/billing/planoverride/").content.decode()

    assert "first comp" in page and "second comp" in page
    assert page.count(f">{player}<") == 2
    assert ">active<" in page and ">ended<" in page
    assert admin_client.get("/admin/billing/planoverride/add/").status_code == 403


def test_the_add_user_page_has_no_override_rows(admin_client):
    page = admin_client.get(f"{USERS}add/").content.decode()
    assert f"{INLINE}-TOTAL_FORMS" not in page
