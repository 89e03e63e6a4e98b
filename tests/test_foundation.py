"""The foundation: real servers, health probes, the error shape, the schema."""

import pytest
from django.db import connection
from django.test import override_settings
from django_redis import get_redis_connection

pytestmark = pytest.mark.django_db


def test_database_is_postgres_18_with_pgvector_08():
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0].startswith("18.")
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone()[0].startswith("0.8")


def test_redis_has_the_search_module():
    modules = get_redis_connection("default").execute_command("MODULE", "LIST")
    names = {module[b"name"] for module in modules}  # redis-py parses each module into a dict
    assert b"search" in names


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_redis(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"] == "ok"


@pytest.mark.parametrize("path", ["/api/nope", "/auth/nope", "/billing/nope"])
def test_unknown_api_paths_answer_json_404_in_the_error_shape(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()


@override_settings(
    CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
)  # fmt: skip
def test_readyz_is_503_naming_redis_when_redis_is_down(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["checks"]["redis"] == "unavailable"
    assert response.json()["error"]["details"]["checks"]["database"] == "ok"
