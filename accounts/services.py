"""Writes for accounts: Google sign-in, JWT sessions (issue, rotate, revoke), the profile, and account deletion."""

import logging
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from config.errors import ApplicationError
from knowledge.models import Game

from .errors import AccountDisabled, SessionTokenInvalid
from .google import GOOGLE_PROVIDER, google_apps, google_id_token_verify
from .models import User
from .tokens import token_user_id

logger = logging.getLogger(__name__)

# What we keep of a Google identity on its SocialAccount: the profile, not the token's bookkeeping.
PROFILE_CLAIMS = ("sub", "email", "email_verified", "hd", "name", "given_name", "family_name", "picture", "locale")
# Email domains Google owns, so Google's "verified" means the person holds the mailbox today.
GOOGLE_MAIL_DOMAINS = ("@gmail.com", "@googlemail.com")


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class SignIn:
    user: User
    tokens: TokenPair
    created: bool


# --- sessions -----------------------------------------------------------------------------------


def session_issue(*, user: User) -> TokenPair:
    """A new refresh token (recorded as outstanding, so it can be revoked) and its access token."""
    refresh = RefreshToken.for_user(user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def _refresh_payload(raw: str) -> dict[str, Any]:
    """The claims of one of our refresh tokens: signature and expiry checked, revocation not yet."""
    try:
        # simplejwt annotates the argument as its Token class; it decodes the encoded str
        payload = token_backend.decode(raw, verify=True)  # type: ignore[arg-type]
    except TokenBackendError as exc:
        raise SessionTokenInvalid() from exc
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not payload.get(jwt_settings.JTI_CLAIM):
        raise SessionTokenInvalid(_("This is not a refresh token."))
    try:
        token_user_id(payload)
    except TokenError as exc:
        raise SessionTokenInvalid() from exc
    return payload


def session_refresh(*, refresh: str) -> TokenPair:
    """Rotate: the given refresh token is blacklisted and a new pair issued, exactly once per token.

    simplejwt's own refresh serializer checks the blacklist and blacklists in separate steps, so two
    concurrent refreshes with one token could both succeed; the row lock here makes the second a 401.
    """
    payload = _refresh_payload(refresh)
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=payload[jwt_settings.JTI_CLAIM]).first()
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise SessionTokenInvalid(_("This refresh token has been used or revoked; sign in again."))
        user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: token_user_id(payload)}).first()
        if user is None or not user.is_active or user.deleted_at is not None:
            raise SessionTokenInvalid(_("This account is disabled."), code="account_disabled")
        BlacklistedToken.objects.create(token=outstanding)
        return session_issue(user=user)


def session_revoke(*, refresh: str) -> None:
    """Log out: blacklist the refresh token. Revoking an already revoked token is a success."""
    payload = _refresh_payload(refresh)
    outstanding = OutstandingToken.objects.filter(jti=payload[jwt_settings.JTI_CLAIM]).first()
    if outstanding is None:
        raise SessionTokenInvalid()
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=outstanding)], ignore_conflicts=True)


def _sessions_revoke_all(*, user: User) -> int:
    outstanding = OutstandingToken.objects.filter(
        user=user, blacklistedtoken__isnull=True, expires_at__gt=timezone.now()
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


# --- Google sign-in -----------------------------------------------------------------------------


def _ensure_can_sign_in(user: User) -> None:
    if not user.is_active or user.deleted_at is not None:
        raise AccountDisabled()


def _google_is_authoritative(claims: dict[str, Any]) -> bool:
    """Google's own advice: its email_verified proves today's ownership only for Gmail and Workspace (hd)."""
    return claims["email"].lower().endswith(GOOGLE_MAIL_DOMAINS) or bool(claims.get("hd"))


def _user_linkable_by_email(claims: dict[str, Any]) -> User | None:
    """An existing account a new Google identity may join because both sides proved the same email.

    The rule: Google is authoritative for the address and says it is verified, AND our own record of
    the address is verified (allauth's EmailAddress.verified, set by an earlier proof, never by
    someone typing it in), AND that account is active, not staff, and has no Google identity yet.
    Anything less makes a new account: an unverified address on either side never links.
    """
    if not _google_is_authoritative(claims):
        return None
    address = (
        EmailAddress.objects.select_related("user")
        .filter(email__iexact=claims["email"], verified=True, user__is_active=True, user__deleted_at__isnull=True)
        .first()
    )
    if address is None:
        return None
    user: User = address.user
    if user.is_staff or user.is_superuser:
        return None  # a phone's Google sign-in never becomes a staff session
    if SocialAccount.objects.filter(user=user, provider=GOOGLE_PROVIDER).exists():
        return None
    return user


# provider: allauth's GoogleProvider, which has no types
def _google_user_get_or_create(
    *, provider: Any, claims: dict[str, Any], request: HttpRequest | None
) -> tuple[User, bool]:
    sociallogin = provider.sociallogin_from_response(request, claims)
    profile = {name: claims[name] for name in PROFILE_CLAIMS if name in claims}

    account = (
        SocialAccount.objects.select_related("user")
        .filter(provider=sociallogin.account.provider, uid=sociallogin.account.uid)
        .first()
    )
    if account is not None:  # the same Google `sub` is always the same user
        _ensure_can_sign_in(account.user)
        account.extra_data = profile
        account.save(update_fields=["extra_data", "last_login"])
        return account.user, False

    new_account = sociallogin.account
    new_account.extra_data = profile
    user = _user_linkable_by_email(claims)
    created = user is None
    if user is None:
        user = sociallogin.user  # shaped by accounts.adapters.SocialAccountAdapter.populate_user
        user.full_clean()
        user.save()
        email = user.email.lower()
        # allauth allows one verified owner per address; a second account just keeps user.email.
        if email and not EmailAddress.objects.filter(email__iexact=email, verified=True).exists():
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    new_account.user = user
    new_account.save()
    return user, created


def google_sign_in(*, id_token: str, request: HttpRequest | None = None) -> SignIn:
    """Verify a Google ID token, find or create its user (see _user_linkable_by_email), open a session.

    Nothing is written unless the token passes every check.
    """
    apps = google_apps(request=request)
    claims = google_id_token_verify(id_token=id_token, client_ids=[app.client_id for app in apps])
    audiences = {claims["aud"]} if isinstance(claims["aud"], str) else set(claims["aud"])
    provider = next(app for app in apps if app.client_id in audiences).get_provider(request)

    try:
        with transaction.atomic():
            user, created = _google_user_get_or_create(provider=provider, claims=claims, request=request)
    except IntegrityError:
        # A concurrent first sign-in of the same Google account won the race: it is that user now.
        logger.info("google sign-in raced for sub %s; retrying the lookup", claims["sub"])
        with transaction.atomic():
            user, created = _google_user_get_or_create(provider=provider, claims=claims, request=request)

    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return SignIn(user=user, tokens=session_issue(user=user), created=created)


# --- the profile and the account's end ----------------------------------------------------------


def user_update(
    *,
    user: User,
    display_name: str | None = None,
    language: str | None = None,
    favourite_games: list[str] | None = None,
) -> User:
    """Change what the player may change about themselves; favourite games must be known games."""
    fields = []
    if display_name is not None:
        user.display_name = display_name.strip()
        fields.append("display_name")
    if language is not None:
        user.language = language
        fields.append("language")
    if favourite_games is not None:
        slugs = list(dict.fromkeys(favourite_games))  # keep the player's order, drop repeats
        known = set(Game.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            raise ApplicationError(_("Unknown game."), code="unknown_game", details={"unknown": unknown})
        user.favourite_games = slugs
        fields.append("favourite_games")
    if fields:
        # Validate only what changed: the row's other fields (the demo user's empty password) are not the player's.
        user.full_clean(exclude=[field.name for field in User._meta.fields if field.name not in fields])
        user.save(update_fields=fields)
    return user


def user_delete(*, user: User) -> None:
    """Delete the account as the app stores require: personal data goes, accounting rows stay.

    The row itself stays (anonymised, inactive, deleted_at set) because billing's usage and cost
    rows point at it. Every refresh token is blacklisted at once; access tokens stop working at once
    because simplejwt's JWTAuthentication refuses inactive users. Safe to call twice.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.deleted_at is not None:
            return
        revoked = _sessions_revoke_all(user=user)
        SocialAccount.objects.filter(user=user).delete()  # and their SocialTokens
        EmailAddress.objects.filter(user=user).delete()
        user.groups.clear()
        user.user_permissions.clear()
        user.username = f"deleted_{user.public_id.hex}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.display_name = ""
        user.favourite_games = []
        user.language = User.Language.KOREAN
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.last_login = None
        user.deleted_at = timezone.now()
        user.save()
    logger.info("account %s deleted; %d refresh tokens revoked", user.public_id, revoked)
