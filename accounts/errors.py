"""The errors sign-in and sessions give, each with a stable code the app can branch on."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError, ServiceUnavailable


class GoogleTokenInvalid(ApplicationError):
    """The Google ID token was not accepted; `code` says why (google_token_expired, ...)."""

    status = 401
    code = "google_token_invalid"
    message = _("The Google ID token was not accepted.")


class GoogleKeysUnavailable(ServiceUnavailable):
    code = "google_keys_unavailable"
    message = _("Google's signing keys could not be fetched; try again shortly.")

    def __init__(self, message: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(message, **kwargs)


class GoogleSignInNotConfigured(ServiceUnavailable):
    code = "google_sign_in_not_configured"
    message = _("Google sign-in is not configured on this server.")


class AccountDisabled(ApplicationError):
    status = 403
    code = "account_disabled"
    message = _("This account is disabled.")


class SessionTokenInvalid(ApplicationError):
    """A refresh token that is malformed, expired, revoked (blacklisted) or of the wrong type."""

    status = 401
    code = "token_not_valid"
    message = _("The token is invalid, expired or revoked.")
