"""The /auth endpoints are in the OpenAPI schema with their request bodies, answers and error codes."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _ref(content: dict) -> str:
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_google_sign_in_is_documented_with_its_body_answer_and_errors(schema):
    operation = schema["paths"]["/auth/google"]["post"]
    assert _ref(operation["requestBody"]["content"]) == "AuthGoogleSignInInputRequest"
    assert _ref(operation["responses"]["200"]["content"]) == "AuthSignInOutput"
    assert {"400", "401", "403", "503"} <= set(operation["responses"])
    assert "google_token_expired" in operation["responses"]["401"]["description"]
    assert "google_keys_unavailable" in operation["responses"]["503"]["description"]
    sign_in_fields = schema["components"]["schemas"]["AuthSignInOutput"]["properties"]
    assert {"access", "refresh", "user", "is_new_user"} <= set(sign_in_fields)


def test_session_endpoints_are_documented(schema):
    refresh = schema["paths"]["/auth/token/refresh"]["post"]
    assert _ref(refresh["responses"]["200"]["content"]) == "AuthTokenPairOutput"
    assert "401" in refresh["responses"]
    logout = schema["paths"]["/auth/logout"]["post"]
    assert "204" in logout["responses"]


def test_me_is_documented_for_get_patch_and_delete(schema):
    me = schema["paths"]["/auth/me"]
    assert _ref(me["get"]["responses"]["200"]["content"]) == "AuthMeOutput"
    assert _ref(me["patch"]["requestBody"]["content"]) == "PatchedAuthMeUpdateInputRequest"
    assert "204" in me["delete"]["responses"]
    assert {"plan", "usage", "public_id"} <= set(schema["components"]["schemas"]["AuthMeOutput"]["properties"])
