"""schemathesis against the running app's OpenAPI schema: every operation, anonymous and signed in.

Each generated request is sent twice over a real uvicorn server: without credentials, and with a
fresh player's Bearer token (the RevenueCat webhook gets its shared secret instead). Checks: no 5xx,
the status code, content type, headers and body conform to the schema, and every error is in the
common shape. CI runs a bounded number of examples per operation; a longer run:

    SCHEMATHESIS_MAX_EXAMPLES=500 .venv/bin/python -m pytest tests/reliability/test_schema_fuzz.py -q

SCHEMATHESIS_STRICT=1 also requires every schema-violating request to be refused (negative_data_rejection);
DRF's lenient coercions (a number where a string is documented, a blank or malformed optional query
parameter treated as absent) fail it: docs/reliability.md lists them.
"""

import json
import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dev.demo.loader import demo_load
from tests.accounts.conftest import CLIENT_IDS, google_apps_setting
from tests.factories import UserFactory
from tests.reliability.conftest import is_error_shape
from tests.servers.google_certs import GoogleCertsServer, SigningKey
from tests.servers.revenuecat import RevenueCatServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
WEBHOOK_SECRET = "Bearer rc-webhook-secret-fuzz"


def errors_in_the_common_shape(ctx, response, case):
    if response.status_code >= 400:
        try:
            body = json.loads(response.content)
        except ValueError:
            raise AssertionError(f"{response.status_code} error is not JSON: {response.content[:200]!r}") from None
        assert is_error_shape(body), f"{response.status_code} error is not in the common shape: {body}"


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    errors_in_the_common_shape,
]
if os.environ.get("SCHEMATHESIS_STRICT"):
    CHECKS.append(negative_data_rejection)


def _served_schema() -> dict:
    """The document GET /api/schema/?format=json serves, generated without a request (at collection time)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


# schemathesis' lazy from_fixture() loader does not run on pytest 9 (it sets Node._nodeid, which is gone), so
# the schema is built at collection and the test checks that the running server serves this very document.
SCHEMA_DOCUMENT = _served_schema()
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT)


@pytest.fixture
def fuzz_server(asgi_server, settings):
    # Outside services on loopback, the demo knowledge loaded, and rate limits high enough to fuzz the logic.
    google = GoogleCertsServer().__enter__()
    google.reset(SigningKey.generate(kid="fuzz-key"))
    revenuecat = RevenueCatServer().start()
    settings.GOOGLE_CERTS_URL = google.url
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(*CLIENT_IDS)
    settings.REVENUECAT_API_BASE_URL, settings.REVENUECAT_API_KEY = revenuecat.url, revenuecat.api_key
    settings.REVENUECAT_WEBHOOK_AUTH, settings.REVENUECAT_HTTP_RETRIES = WEBHOOK_SECRET, 0
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"ip": "100000/min", "user": "100000/min", "ask": "100000/min"},
    }
    demo_load()
    served = httpx.get(f"{asgi_server.url}/api/schema/?format=json", timeout=30)
    assert served.status_code == 200 and served.json() == SCHEMA_DOCUMENT
    yield asgi_server
    revenuecat.stop()
    google.__exit__(None, None, None)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          print_blob=True)  # fmt: skip
def test_every_operation_holds_its_schema_anonymous_and_signed_in(case, fuzz_server):
    case.call_and_validate(base_url=fuzz_server.url, checks=CHECKS, timeout=30)
    credential = WEBHOOK_SECRET if case.path == "/billing/revenuecat/webhook" else _fresh_player_bearer(case)
    case.call_and_validate(base_url=fuzz_server.url, headers={"Authorization": credential}, checks=CHECKS, timeout=30)


def _fresh_player_bearer(case) -> str:
    # A new player each time: a fuzzed DELETE /auth/me or a spent quota must not starve the next example.
    staff = case.path.startswith(("/api/admin/", "/api/knowledge/"))
    user = UserFactory(is_staff=staff)
    return f"Bearer {RefreshToken.for_user(user).access_token}"
