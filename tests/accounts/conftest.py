"""Google on loopback for the accounts tests: its certs server, a signing key, and ID tokens for our apps."""

import pytest
from django.conf import settings as django_settings

from tests.servers.google_certs import GoogleCertsServer, SigningKey

IOS_CLIENT_ID = "1000-ios.apps.googleusercontent.com"
ANDROID_CLIENT_ID = "1000-android.apps.googleusercontent.com"
WEB_CLIENT_ID = "1000-web.apps.googleusercontent.com"
CLIENT_IDS = (IOS_CLIENT_ID, ANDROID_CLIENT_ID, WEB_CLIENT_ID)


def google_apps_setting(*client_ids: str) -> dict:
    """SOCIALACCOUNT_PROVIDERS as config/settings/base.py builds it from GOOGLE_CLIENT_IDS (keeping its
    endpoint URLs, which allauth reads once: whichever test loads its Google views first sees them)."""
    base = {name: value for name, value in django_settings.SOCIALACCOUNT_PROVIDERS["google"].items() if name != "APPS"}
    return {
        "google": {
            **base,
            "APPS": [
                {"client_id": client_id, "secret": "", "key": "", "settings": {"hidden": True}}
                for client_id in client_ids
            ],
        }
    }


@pytest.fixture(scope="session")
def google_key() -> SigningKey:
    return SigningKey.generate(kid="google-key-1")


@pytest.fixture(scope="session")
def _google_certs_server():
    with GoogleCertsServer() as server:
        yield server


@pytest.fixture
def google(_google_certs_server, google_key, settings) -> GoogleCertsServer:
    """Google's certs endpoint serving google_key, and our server configured for the three client ids."""
    _google_certs_server.reset(google_key)
    settings.GOOGLE_CERTS_URL = _google_certs_server.url
    settings.SOCIALACCOUNT_PROVIDERS = google_apps_setting(*CLIENT_IDS)
    return _google_certs_server


@pytest.fixture
def google_token(google, google_key):
    """google_token(**claims) -> an ID token Google would give our iOS app (overrides; None drops a claim)."""

    def make(**overrides) -> str:
        return google_key.id_token(**{"aud": IOS_CLIENT_ID, **overrides})

    return make


def sign_in(client, id_token: str):
    return client.post("/auth/google", {"id_token": id_token}, format="json")
