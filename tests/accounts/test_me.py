"""GET and PATCH /auth/me: the profile, the plan and this period's calls, and what a player may change."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Subscription, UsageCounter
from billing.periods import period_bounds
from billing.plans import PLAN_CALL_LIMITS, PLAN_PERIODS
from knowledge.models import Game

pytestmark = pytest.mark.django_db


@pytest.fixture
def games(db):
    for slug in ("elden-ring", "league-of-legends", "valorant"):
        Game.objects.create(slug=slug, name_ko=slug, name_en=slug)


def test_me_shows_profile_plan_and_calls_left_this_period(auth_client, user):
    # given a free player who has used 3 calls this week
    start, _ = period_bounds(PLAN_PERIODS["free"])
    UsageCounter.objects.create(user=user, period=PLAN_PERIODS["free"], period_start=start, used=3)

    # when the app asks who is signed in
    response = auth_client.get("/auth/me")

    # then it sees the profile, the free plan and the calls left
    assert response.status_code == 200
    body = response.json()
    assert body["public_id"] == str(user.public_id)
    assert body["email"] == user.email
    assert body["display_name"] == user.display_name
    assert body["plan"] == "free"
    assert body["usage"]["period"] == PLAN_PERIODS["free"]
    assert body["usage"]["used"] == 3
    assert body["usage"]["limit"] == PLAN_CALL_LIMITS["free"]
    assert body["usage"]["remaining"] == PLAN_CALL_LIMITS["free"] - 3
    assert body["usage"]["resets_at"]
    assert body["subscription"] is None


def test_me_shows_a_paid_subscription(auth_client, user):
    expires = timezone.now() + timedelta(days=20)
    Subscription.objects.create(user=user, plan="basic", store="app_store", product_id="basic_weekly",
                                expires_at=expires, will_renew=True)  # fmt: skip
    body = auth_client.get("/auth/me").json()
    assert body["plan"] == "basic"
    assert body["usage"]["limit"] == PLAN_CALL_LIMITS["basic"]
    assert body["subscription"]["store"] == "app_store"
    assert body["subscription"]["will_renew"] is True


def test_patch_changes_display_name_language_and_favourite_games(auth_client, user, games):
    # when the player edits their profile
    response = auth_client.patch(
        "/auth/me",
        {
            "display_name": "  말레니아 킬러 ",
            "language": "en",
            "favourite_games": ["valorant", "elden-ring", "valorant"],
        },
        format="json",
    )

    # then the changes are stored and returned (name trimmed, repeats dropped, order kept)
    assert response.status_code == 200
    assert response.json()["display_name"] == "말레니아 킬러"
    assert response.json()["language"] == "en"
    assert response.json()["favourite_games"] == ["valorant", "elden-ring"]
    user.refresh_from_db()
    assert (user.display_name, user.language, user.favourite_games) == (
        "말레니아 킬러",
        "en",
        ["valorant", "elden-ring"],
    )


def test_patch_with_one_field_leaves_the_others(auth_client, user, games):
    user.favourite_games = ["valorant"]
    user.save()
    auth_client.patch("/auth/me", {"language": "en"}, format="json")
    user.refresh_from_db()
    assert user.favourite_games == ["valorant"]
    assert user.display_name


def test_patch_with_an_unknown_game_is_refused_and_changes_nothing(auth_client, user, games):
    response = auth_client.patch(
        "/auth/me", {"language": "en", "favourite_games": ["elden-ring", "no-such-game"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_game"
    assert response.json()["error"]["details"]["unknown"] == ["no-such-game"]
    user.refresh_from_db()
    assert user.language == "ko"
    assert user.favourite_games == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "jp"}, "language"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"favourite_games": "elden-ring"}, "favourite_games"),
        ({"favourite_games": ["Elden Ring"]}, "favourite_games"),
        ({"favourite_games": [f"game-{n}" for n in range(21)]}, "favourite_games"),
    ],
)
def test_patch_with_bad_values_is_a_400_naming_the_field(auth_client, body, field):
    response = auth_client.patch("/auth/me", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]["fields"]


def test_patch_cannot_change_email_or_public_id(auth_client, user):
    before = (user.email, user.public_id)
    auth_client.patch("/auth/me", {"email": "new@example.com", "public_id": "0" * 32}, format="json")
    user.refresh_from_db()
    assert (user.email, user.public_id) == before
