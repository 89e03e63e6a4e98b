"""GET /api/games for the pickers, and the shared retrieval-filter validation in the common error shape."""

import pytest
from rest_framework.exceptions import ValidationError

from config.errors import ApplicationError
from knowledge.apis import RetrievalFilterSerializer
from knowledge.models import Document

pytestmark = pytest.mark.django_db


def test_games_list_categories_and_tags_in_use_for_the_pickers(auth_client, make_document, elden_ring, league,
                                                               django_assert_max_num_queries):  # fmt: skip
    # given published documents in two categories (one not declared on the game) and a draft
    make_document(category="boss", tags=["malenia", "phase-2"])
    make_document(category="lore", tags=["malenia", "miquella"])
    make_document(category="build", tags=["draft-only"], status=Document.Status.DRAFT)
    # when the app asks for the games
    with django_assert_max_num_queries(3):  # the user, the usage aggregate, the games
        response = auth_client.get("/api/games")
    # then each game lists the categories and tags its published documents use
    assert response.status_code == 200
    assert response.json() == {
        "games": [
            {"slug": "elden-ring", "name_ko": "엘든 링", "name_en": "Elden Ring", "categories": ["boss", "lore"],
             "tags": ["malenia", "miquella", "phase-2"]},
            {"slug": "league-of-legends", "name_ko": "리그 오브 레전드", "name_en": "League of Legends",
             "categories": [], "tags": []},
        ]
    }  # fmt: skip


def test_games_need_a_signed_in_player(api_client):
    response = api_client.get("/api/games")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"game": "zelda"}, "unknown_game", None),
        ({"game": "elden-ring", "tags": "malenia"}, "validation_error", "tags"),
        ({"game": "elden-ring", "tags": ["malenia", 3]}, "validation_error", "tags"),
        ({"game": "elden-ring", "tags": [None]}, "validation_error", "tags"),
        ({"game": "elden-ring", "category": "x" * 51}, "validation_error", "category"),
        ({"game": "elden-ring", "category": 7}, "validation_error", "category"),
        ({"game": 12}, "validation_error", "game"),
        ({}, "validation_error", "game"),
    ],
)
def test_bad_retrieval_filters_get_a_400_in_the_error_shape(staff_client, elden_ring, body, code, field):
    response = staff_client.post("/api/knowledge/search", {"question": "말레니아?", **body}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    if field:
        assert field in error["details"]["fields"]
    else:
        assert error["details"] == {"game": "zelda"}


def test_the_filter_serializer_normalises_what_the_coach_passes_on(elden_ring):
    data = RetrievalFilterSerializer(data={"game": "elden-ring", "category": "", "tags": ["a", "b", "a"]})
    assert data.is_valid(), data.errors
    assert data.validated_data == {"game": "elden-ring", "category": None, "tags": ["a", "b"]}
    minimal = RetrievalFilterSerializer(data={"game": "elden-ring"})
    assert minimal.is_valid()
    assert minimal.validated_data == {"game": "elden-ring", "category": None, "tags": []}


def test_the_filter_serializer_raises_the_domain_error_for_an_unknown_game(elden_ring):
    with pytest.raises(ApplicationError) as raised:
        RetrievalFilterSerializer(data={"game": "zelda"}).is_valid(raise_exception=True)
    assert (raised.value.status, raised.value.code) == (400, "unknown_game")
    with pytest.raises(ValidationError):
        RetrievalFilterSerializer(data={"game": "elden-ring", "tags": ["x" * 51]}).is_valid(raise_exception=True)


def test_staff_probe_returns_hits_with_distances_and_the_plan(staff_client, make_document):
    make_document(title="Malenia phase 2", content="말레니아 2페이즈 개화는 반대로 달려서 피하세요.", tags=["malenia"])
    make_document(title="Radahn", content="Radahn meteor: ride away.", tags=["radahn"])
    response = staff_client.post(
        "/api/knowledge/search",
        {"question": "말레니아 2페이즈 어떻게 피해요?", "game": "elden-ring", "tags": ["malenia"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert [hit["title"] for hit in body["hits"]] == ["Malenia phase 2"]
    assert 0 <= body["hits"][0]["distance"] < 1
    assert body["plan"] == "exact" and body["filtered_rows"] == 1 and body["model"] == "offline-hash-ngram-v1"


def test_the_probe_is_for_staff_only(auth_client, elden_ring):
    response = auth_client.post("/api/knowledge/search", {"question": "q", "game": "elden-ring"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
