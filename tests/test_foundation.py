"""The foundation: real servers, health probes, the error shape, the schema."""

import re

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.utils.module_loading import import_string
from django_redis import get_redis_connection

from config.middleware import StaticFilesMiddleware

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
    # its scripts and styles come from here (the sidecar), never from a CDN; the page's CSRF token is
    # random text, so a bare "cdn" in it is no sign of one (it made this test fail now and then)
    assert b"/static/drf_spectacular_sidecar/" in docs.content
    assert not re.search(rb"""(src|href)\s*=\s*["'](https?:)?//""", docs.content)
    assert b"cdn." not in docs.content.lower()


@override_settings(
    CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
)  # fmt: skip
def test_readyz_is_503_naming_redis_when_redis_is_down(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["checks"]["redis"] == "unavailable"
    assert response.json()["error"]["details"]["checks"]["database"] == "ok"


def test_every_middleware_serves_the_async_stack_without_a_worker_thread():
    # One sync-only middleware makes Django run every middleware above it in a worker thread under
    # ASGI and hop back to the event loop for the view: two thread handoffs on every request.
    sync_only = [path for path in settings.MIDDLEWARE if not getattr(import_string(path), "async_capable", False)]
    assert sync_only == []


def test_static_files_are_served_under_both_stacks_and_everything_else_passes_through(settings):
    settings.WHITENOISE_USE_FINDERS = True  # no collectstatic in the tests: WhiteNoise finds the app's files

    async def async_view(request):
        return HttpResponse("api")

    served_async = StaticFilesMiddleware(async_view)
    assert iscoroutinefunction(served_async)
    css = async_to_sync(served_async)(RequestFactory().get("/static/admin/css/base.css"))
    passed = async_to_sync(served_async)(RequestFactory().get("/api/games"))
    served_sync = StaticFilesMiddleware(lambda request: HttpResponse("sync"))
    css_sync = served_sync(RequestFactory().get("/static/admin/css/base.css"))

    assert (css.status_code, css["Content-Type"].split(";")[0]) == (200, "text/css")
    assert b"".join(css.streaming_content).startswith(b"/*")
    assert passed.content == b"api"
    assert not iscoroutinefunction(served_sync)
    assert (css_sync.status_code, css_sync["Content-Type"].split(";")[0]) == (200, "text/css")
    assert served_sync(RequestFactory().get("/auth/me")).content == b"sync"
