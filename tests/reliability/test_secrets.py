"""No secret or token in any log line or error response, over a whole session with real tokens and keys."""

import json

import httpx
import pytest
from django.conf import settings as django_settings

from dev.demo.loader import demo_load
from tests.accounts.conftest import CLIENT_IDS, IOS_CLIENT_ID, google_apps_setting
from tests.reliability.conftest import ASK, is_error_shape
from tests.servers.google_certs import GoogleCertsServer, SigningKey
from tests.servers.openai_server import OpenAIServer, ServerError
from tests.servers.revenuecat import RevenueCatServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENAI_KEY = "sk-proj-reliabilitySECRETkey0123456789abcdef"
WRONG_OPENAI_KEY = "sk-proj-revokedSECRETkey9876543210fedcba"
REVENUECAT_KEY = "sk_reliabilityRevenueCatSECRET0123456789"
WEBHOOK_SECRET = "Bearer whsec-reliability-SECRET-0123456789"


def test_a_whole_session_leaves_no_secret_in_logs_or_error_responses(asgi_server, json_log, settings):
    key = SigningKey.generate(kid="reliability-key")
    with GoogleCertsServer() as google, OpenAIServer(api_key=OPENAI_KEY) as llm_server:
        revenuecat = RevenueCatServer(api_key=REVENUECAT_KEY).start()
        google.reset(key)
        settings.GOOGLE_CERTS_URL = google.url
        settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(*CLIENT_IDS)
        settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = OPENAI_KEY, llm_server.base_url
        settings.LLM_BACKOFF_SECONDS = 0.01
        settings.REVENUECAT_API_BASE_URL, settings.REVENUECAT_API_KEY = revenuecat.url, REVENUECAT_KEY
        settings.REVENUECAT_WEBHOOK_AUTH, settings.REVENUECAT_HTTP_RETRIES = WEBHOOK_SECRET, 0
        demo_load()
        id_token = key.id_token(aud=IOS_CLIENT_ID, sub="1098765432109876543", email="secret.player@gmail.com")
        errors: list[httpx.Response] = []
        http = httpx.Client(base_url=asgi_server.url, timeout=30)

        def call(method, path, *, token=None, expect=None, **kwargs):
            headers = kwargs.pop("headers", {})
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = http.request(method, path, headers=headers, **kwargs)
            if expect is not None:
                assert response.status_code == expect, (path, response.status_code, response.text)
                assert is_error_shape(response.json()), (path, response.text)
                errors.append(response)
            return response

        # a player signs in with Google, uses the app, refreshes, and logs out
        signed_in = call("POST", "/auth/google", json={"id_token": id_token}).json()
        access, refresh = signed_in["access"], signed_in["refresh"]
        assert call("GET", "/auth/me", token=access).status_code == 200
        assert call("POST", ASK, token=access, json={"game": "elden-ring", "question": "Malenia?"}).status_code == 200
        rotated = call("POST", "/auth/token/refresh", json={"refresh": refresh}).json()
        # and things go wrong in every way that might echo a credential
        call("POST", "/auth/token/refresh", json={"refresh": refresh}, expect=401)  # reused
        call("GET", "/auth/me", token=refresh, expect=401)  # refresh as access
        call("GET", "/auth/me", token=access + "x", expect=401)  # tampered
        call("POST", "/auth/google", json={"id_token": id_token + "x"}, expect=401)
        call("GET", "/auth/me", headers={"Authorization": f"Basic {access}"}, expect=401)
        settings.OPENAI_API_KEY = WRONG_OPENAI_KEY  # the provider answers 401 invalid_api_key: 503, not a 500
        call("POST", ASK, token=rotated["access"], json={"game": "elden-ring", "question": "Radahn?"},
             expect=503)  # fmt: skip
        settings.OPENAI_API_KEY = OPENAI_KEY
        llm_server.enqueue(*[ServerError()] * 4)
        call("POST", ASK, token=rotated["access"], json={"game": "elden-ring", "question": "Malenia phase 2?"},
             expect=503)  # fmt: skip
        webhook = {"event": {"id": "evt-secret-1", "type": "TEST", "app_user_id": "x"}}
        call("POST", "/billing/revenuecat/webhook", json=webhook, headers={"Authorization": WEBHOOK_SECRET})
        call("POST", "/billing/revenuecat/webhook", json=webhook, expect=401,
             headers={"Authorization": WEBHOOK_SECRET[:-1]})  # fmt: skip
        revenuecat.fail(500, times=5)
        call("POST", "/billing/refresh", token=rotated["access"], expect=503)  # REST API failing
        call("POST", "/auth/logout", json={"refresh": rotated["refresh"]})
        call("POST", "/auth/logout", json={"refresh": "not-a-token"}, expect=401)
        revenuecat.stop()

    secrets = {
        "Google ID token": id_token,
        "access token": access,
        "refresh token": refresh,
        "rotated access token": rotated["access"],
        "rotated refresh token": rotated["refresh"],
        "OpenAI key": OPENAI_KEY,
        "revoked OpenAI key": WRONG_OPENAI_KEY,
        "RevenueCat key": REVENUECAT_KEY,
        "webhook secret": WEBHOOK_SECRET.removeprefix("Bearer "),
        "JWT signing key": django_settings.SIMPLE_JWT["SIGNING_KEY"],
        "Django secret key": django_settings.SECRET_KEY,
    }
    # any part of a token is a leak too: its signature alone can be enough to replay it
    for name in ["Google ID token", "access token", "refresh token", "rotated access token", "rotated refresh token"]:
        secrets[f"{name} signature"] = secrets[name].rsplit(".", 1)[1]
    logs = "\n".join(json_log.lines)
    assert len(json_log.lines) > 20  # the session was logged, at DEBUG level even
    assert any(json.loads(line).get("status") == 401 for line in json_log.lines)
    error_text = "\n".join(f"{r.headers}\n{r.text}" for r in errors)
    assert len(errors) == 10
    leaks = [name for name, value in secrets.items() if value in logs or value in error_text]
    assert leaks == [], leaks
