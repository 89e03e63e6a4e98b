"""Google ID tokens: Google's signing keys (fetched, cached, refetched for an unknown kid) and each token's checks.

Why not allauth's `jwtkit.verify_and_decode` (what GoogleProvider.verify_token calls) as is: in 65.21 it
fetches the certs on every sign-in, reads its certs URL once at import (and expects the v1 PEM
document), accepts one issuer spelling, and takes the algorithm from the token's own header, so an
HS256 token meets an RSA key object inside PyJWT and escapes as a TypeError (a 500). So allauth keeps
what it is good at (its Google apps give the accepted client ids, its JWK lookup turns Google's key
into a public key, its provider turns the claims into a SocialLogin) and the decode below is PyJWT
with the algorithm pinned to RS256, both issuer spellings, every configured audience, and one error
code per failure.
"""

import hashlib
import logging
import re

import jwt
import requests
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.core.cache import cache
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .errors import GoogleKeysUnavailable, GoogleSignInNotConfigured, GoogleTokenInvalid

logger = logging.getLogger(__name__)

GOOGLE_PROVIDER = "google"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]
# Our clock against Google's: a token issued a few seconds "in the future" is still Google's token.
CLOCK_SKEW_SECONDS = 30
_MAX_AGE = re.compile(r"max-age=(\d+)")


def google_apps(*, request=None) -> list:
    """allauth's Google apps (settings GOOGLE_CLIENT_IDS, plus any SocialApp added in the admin):
    their client ids (iOS, Android, web) are the audiences we accept."""
    apps = get_adapter().list_apps(request, provider=GOOGLE_PROVIDER)
    # The staff web client (STAFF_GOOGLE_CLIENT_ID) signs staff in to the admin, not players in to the app.
    return [app for app in apps if app.client_id and not app.settings.get("staff")]


def _cache_key(name: str) -> str:
    # Keyed by URL, so pointing GOOGLE_CERTS_URL elsewhere never serves the old keys.
    return f"accounts:google-certs:{name}:{hashlib.sha256(settings.GOOGLE_CERTS_URL.encode()).hexdigest()[:16]}"


def _cache_call(method: str, *args, **kwargs):
    """A cache operation that degrades to a miss when Redis is down: sign-in then fetches the keys itself."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception as exc:  # redis-py raises its own ConnectionError/TimeoutError family
        logger.warning("google certs cache %s failed: %s", method, type(exc).__name__)
        return None


def _usable_keys(document) -> list[dict]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        return []
    return [
        key
        for key in document["keys"]
        if isinstance(key, dict)
        and key.get("kty") == "RSA"
        and isinstance(key.get("kid"), str)
        and key.get("alg", ALGORITHM) == ALGORITHM
    ]


def _max_age(cache_control: str) -> int:
    match = _MAX_AGE.search(cache_control or "")
    if match:
        return max(int(match.group(1)), 1)
    return settings.GOOGLE_CERTS_DEFAULT_MAX_AGE


def google_keys_fetch() -> dict:
    """GET Google's JWK set, keep its RSA signing keys in the cache for the max-age Google sends."""
    url = settings.GOOGLE_CERTS_URL
    try:
        with get_adapter().get_requests_session() as session:
            response = session.get(url, timeout=settings.GOOGLE_CERTS_TIMEOUT)
            response.raise_for_status()
            document = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("google certs fetch from %s failed: %s", url, exc)
        raise GoogleKeysUnavailable() from exc
    keys = _usable_keys(document)
    if not keys:
        logger.warning("google certs document at %s holds no RSA signing keys", url)
        raise GoogleKeysUnavailable()
    document = {"keys": keys}
    _cache_call("set", _cache_key("jwks"), document, timeout=_max_age(response.headers.get("Cache-Control", "")))
    return document


def _lookup(document: dict, kid: str):
    try:
        return jwtkit.lookup_kid_jwk(document, kid)
    except (OAuth2Error, jwt.PyJWTError, ValueError) as exc:
        logger.warning("google signing key %s could not be loaded: %s", kid, exc)
        raise GoogleKeysUnavailable() from exc


def _refetch_allowed() -> bool:
    """One unknown-kid refetch per GOOGLE_CERTS_REFETCH_SECONDS (allowed when Redis cannot say)."""
    added = _cache_call("add", _cache_key("refetch"), 1, timeout=settings.GOOGLE_CERTS_REFETCH_SECONDS)
    return added is not False


def google_signing_key(*, kid: str):
    """The public key for `kid`: from the cache, else one fetch; an unknown kid refetches (rate-limited)."""
    document = _cache_call("get", _cache_key("jwks"))
    fetched = document is None
    if fetched:
        document = google_keys_fetch()
    key = _lookup(document, kid)
    # Google publishes a new key before signing with it, so an unknown kid means our copy is old,
    # or the token is not Google's.
    if key is None and not fetched and _refetch_allowed():
        key = _lookup(google_keys_fetch(), kid)
    if key is None:
        raise _invalid("google_token_unknown_key", _("The token is not signed by any of Google's current keys."))
    return key


def _invalid(code: str, message: str | Promise) -> GoogleTokenInvalid:
    return GoogleTokenInvalid(message, code=code)


def google_id_token_verify(*, id_token: str, client_ids: list[str]) -> dict:
    """The verified claims of a Google ID token, or GoogleTokenInvalid with a code naming the failed check.

    Checks, in order: shape, algorithm (RS256 only: `none` and HS256-with-the-public-key are refused
    before any key is fetched), key id, signature, then exp/iat, iss, aud, and email_verified.
    """
    if not client_ids:
        logger.error("Google sign-in attempted but no GOOGLE_CLIENT_IDS / Google SocialApp is configured")
        raise GoogleSignInNotConfigured()
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise _invalid("google_token_malformed", _("The token is not a JWT.")) from exc
    if header.get("alg") != ALGORITHM:
        raise _invalid("google_token_unsupported_algorithm", _("Google ID tokens are signed with RS256."))
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _invalid("google_token_malformed", _("The token names no signing key."))

    key = google_signing_key(kid=kid)
    try:
        claims = jwt.decode(
            id_token,
            key=key,
            algorithms=[ALGORITHM],
            audience=client_ids,
            issuer=GOOGLE_ISSUERS,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.InvalidSignatureError as exc:
        raise _invalid("google_token_bad_signature", _("The token's signature does not verify.")) from exc
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("google_token_expired", _("The token has expired; sign in with Google again.")) from exc
    except jwt.ImmatureSignatureError as exc:
        raise _invalid("google_token_not_yet_valid", _("The token is not valid yet.")) from exc
    except jwt.InvalidAudienceError as exc:
        raise _invalid("google_token_wrong_audience", _("The token was issued for another app.")) from exc
    except jwt.InvalidIssuerError as exc:
        raise _invalid("google_token_wrong_issuer", _("The token was not issued by Google.")) from exc
    except jwt.PyJWTError as exc:  # missing claims, undecodable payload, ...
        raise _invalid("google_token_malformed", _("The token is malformed: %(reason)s") % {"reason": exc}) from exc

    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise _invalid("google_token_malformed", _("The token has no subject."))
    # Google sends a boolean; very old tokens carried the string "true".
    if not claims.get("email") or claims.get("email_verified") not in (True, "true"):
        raise _invalid("google_email_unverified", _("The Google account's email address is not verified."))
    return claims
