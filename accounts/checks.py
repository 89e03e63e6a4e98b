"""System checks and /readyz: whether Google sign-in has client ids to accept."""

from django.conf import settings
from django.core.checks import Warning, register

from config.health import readiness_extra


def _google_configured() -> bool:
    # Settings only (GOOGLE_CLIENT_IDS): checks and /readyz must not need the database. A SocialApp
    # added in the admin also works for sign-in, but is not seen here.
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("google", {}).get("APPS", [])
    return any(app.get("client_id") and not app.get("settings", {}).get("staff") for app in apps)


@register(deploy=True)
def google_sign_in_is_configured(app_configs, **kwargs):
    if _google_configured():
        return []
    return [
        Warning(
            "No Google client ids: POST /auth/google answers 503 google_sign_in_not_configured.",
            hint="Set GOOGLE_CLIENT_IDS to the iOS, Android and web OAuth client ids.",
            id="accounts.W001",
        )
    ]


@readiness_extra
def google_sign_in_readiness() -> dict:
    return {"google_sign_in": "configured" if _google_configured() else "not_configured"}
