"""Django's own middleware under ASGI: on the event loop, and in a worker thread only for the session.

config.middleware.django_middleware_on_loop takes twelve thread handoffs off every API request,
and config.views renders the ask's JSON on the loop. These tests go through
Django's async handler (AsyncClient) and check what a player and a member of staff would notice:
the ask and its headers are as before, and signing in to the admin, its CSRF check and its
messages still work, which is where the hooks do need the database.
"""

import collections

import pytest
from asgiref import sync
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import RefreshToken

from coach.services.ask import admission, pipeline, records
from dev.demo.loader import demo_load
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ASK = "/api/coach/ask"
MALENIA = {"game": "elden-ring", "question": "말레니아 2페이즈 어떻게 피해요?"}


@pytest.fixture
def thread_hops(monkeypatch):
    """The functions a request runs in a worker thread (every sync_to_async call), by name."""
    hops = collections.Counter()
    call = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops[getattr(self.func, "__qualname__", repr(self.func))] += 1
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return hops


def _is_middleware_hook(name: str) -> bool:
    return name.endswith((".process_request", ".process_response"))


def test_an_ask_under_asgi_runs_no_middleware_hook_nor_its_rendering_in_a_worker_thread(user, thread_hops):
    demo_load()
    client, authorization = AsyncClient(), {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}
    first = async_to_sync(client.post)(ASK, MALENIA, content_type="application/json", headers=authorization)
    thread_hops.clear()

    again = async_to_sync(client.post)(ASK, MALENIA, content_type="application/json", headers=authorization)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["cache"] == "exact"
    assert again["X-Plan-Remaining"] == "29"
    # Django's security, clickjacking and session middleware still ran, on the loop:
    assert again["X-Content-Type-Options"] == "nosniff"
    assert again["X-Frame-Options"] == "DENY"
    assert again["Referrer-Policy"] == "same-origin"
    assert "sessionid" not in again.cookies
    # The exact hit's one trip to a thread (the player, then the log row) is the ask's own; no
    # middleware hook is one any more (there were twelve, and CSRF's view check), nor is rendering
    # the JSON, nor an admission (a resend reserves nothing).
    assert thread_hops["_exact_hit_record"] == 1
    assert "_admit" not in thread_hops and "_record" not in thread_hops
    assert [name for name in thread_hops if _is_middleware_hook(name)] == []
    assert "SimpleTemplateResponse.render" not in thread_hops
    assert "CsrfViewMiddleware.process_view" not in thread_hops  # the API's views are csrf_exempt


def test_a_miss_takes_two_trips_to_a_worker_thread_and_a_semantic_hit_one(thread_hops):
    demo_load()
    first, second = UserFactory(), UserFactory()
    client = AsyncClient()

    def asked(user):
        thread_hops.clear()
        headers = {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}
        response = async_to_sync(client.post)(ASK, MALENIA, content_type="application/json", headers=headers)
        return response.json()["cache"], {name: n for name, n in thread_hops.items() if name in steps}

    # the ask pipeline's own trips (the test client's signals and Django's response close make more)
    steps = {name for module in (admission, pipeline, records) for name, value in vars(module).items()
             if name.startswith("_") and callable(value)}  # fmt: skip
    # admission with retrieval, then the log row; the semantic hit: admission with its log row
    assert asked(first) == ("none", {"_admit_and_retrieve": 1, "_record": 1})
    assert asked(second) == ("semantic", {"_semantic_hit_record": 1})


@pytest.mark.parametrize("csrf_in_session", [False, True])
def test_staff_sign_in_to_the_admin_under_asgi_with_its_csrf_check_and_messages(settings, csrf_in_session):
    settings.CSRF_USE_SESSIONS = csrf_in_session  # the token then lives in the session: its hooks take the thread
    staff = UserFactory(username="ops", is_staff=True, is_superuser=True)
    staff.set_password("a-long-staff-password")
    staff.save()
    client = AsyncClient(enforce_csrf_checks=True)

    form = async_to_sync(client.get)("/admin/login/")
    token = form.context["csrf_token"]
    credentials = {"username": "ops", "password": "a-long-staff-password"}
    forged = async_to_sync(client.post)("/admin/login/", credentials)
    signed_in = async_to_sync(client.post)(
        "/admin/login/", {**credentials, "csrfmiddlewaretoken": token, "next": "/admin/"}
    )
    token = async_to_sync(client.get)("/admin/auth/group/add/").context["csrf_token"]  # rotated at sign-in
    added = async_to_sync(client.post)("/admin/auth/group/add/", {"name": "curators", "csrfmiddlewaretoken": token})
    listing = async_to_sync(client.get)(added["Location"])

    assert form.status_code == 200
    assert forged.status_code == 403
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/admin/")
    assert "sessionid" in signed_in.cookies  # the session was saved (in the worker thread)
    assert added.status_code == 302
    shown = [str(message) for message in listing.context["messages"]]  # stored at the add, shown once
    assert len(shown) == 1 and "curators" in shown[0]
    assert list(async_to_sync(client.get)(added["Location"]).context["messages"]) == []
