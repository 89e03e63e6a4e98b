"""GET /api/admin/stats: staff only, the dashboard's figures as JSON, bad ranges refused in the error shape."""

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from tests.conftest import bearer_client
from tests.factories import UserFactory

from .conftest import log_at

pytestmark = pytest.mark.django_db
URL = "/api/admin/stats"


def test_anonymous_is_refused_with_401(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_player_is_refused_with_403(auth_client):
    response = auth_client.get(URL)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_staff_see_the_figures_per_day_of_the_service_time_zone(staff_client):
    # given an exact-cache hit asked at 23:30 UTC on 1 March (2 March in Seoul)
    log_at(datetime(2025, 3, 1, 23, 30, tzinfo=UTC), cache="exact", cost_usd=0, saved_usd="0.00225")
    log_at(datetime(2025, 3, 2, 3, 0, tzinfo=UTC), cost_usd="0.00225")

    response = staff_client.get(URL, {"from": "2025-03-01", "to": "2025-03-03"})

    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["time_zone"], body["game"]) == (
        "2025-03-01",
        "2025-03-03",
        "Asia/Seoul",
        None,
    )
    assert [day["questions"] for day in body["days"]] == [0, 2, 0]
    assert body["totals"]["cost_usd"] == "0.00225000"
    assert body["totals"]["saved_usd"] == "0.00225000"
    assert body["totals"]["exact_hit_rate"] == 0.5
    assert body["days"][1]["cost_by_model"] == {"gpt-4o-mini": "0.00225000"}


def test_a_staff_session_of_the_admin_may_read_it_too(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    assert client.get(URL).status_code == 200


def test_without_dates_it_shows_the_last_30_days_up_to_today(staff_client):
    log_at(timezone.now())

    body = staff_client.get(URL).json()

    assert len(body["days"]) == 30
    assert body["to"] == timezone.localdate().isoformat()
    assert body["totals"]["questions"] == 1


def test_the_game_filter_is_applied(staff_client):
    log_at(datetime(2025, 3, 2, 3, 0, tzinfo=UTC), game="valorant")
    log_at(datetime(2025, 3, 2, 3, 0, tzinfo=UTC), game="elden-ring")

    body = staff_client.get(URL, {"from": "2025-03-02", "to": "2025-03-02", "game": "valorant"}).json()

    assert body["game"] == "valorant"
    assert body["totals"]["questions"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-03-05", "to": "2025-03-01"}, "from"),
        ({"from": "2023-01-01", "to": "2025-01-01"}, "from"),
        ({"game": "not a slug!"}, "game"),
    ],
)
def test_a_bad_date_or_range_is_a_400_in_the_error_shape(staff_client, params, field):
    response = staff_client.get(URL, params)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]


def test_it_is_documented_in_the_openapi_schema(staff_client):
    schema = staff_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/admin/stats"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} == {"from", "to", "game"}
    assert {"200", "400", "401", "403"} <= set(operation["responses"])
    totals = schema["components"]["schemas"]["StatsTotals"]["properties"]
    assert {"cost_usd", "saved_usd", "latency_p95_ms", "quota_rejections"} <= set(totals)


def test_a_non_staff_user_is_refused_even_with_a_valid_token(db):
    player = UserFactory()

    response = bearer_client(player).get(URL, {"from": date(2025, 3, 1).isoformat()})

    assert response.status_code == 403
