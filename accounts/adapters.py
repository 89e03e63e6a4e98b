"""allauth's social-account adapter: the one place that shapes a new user from a Google identity,
and the staff rule for the admin's Google sign-in (allauth's web flow, docs/staff.md)."""

import logging

from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .models import User
from .staff import staff_group_ensure

logger = logging.getLogger(__name__)


def staff_google_configured() -> bool:
    return bool(settings.STAFF_GOOGLE_CLIENT_ID and settings.STAFF_GOOGLE_CLIENT_SECRET)


def staff_google_allowed(claims: dict) -> bool:
    """A verified Google account of an allowed Workspace domain (Google's `hd`, so Google hosts the
    mailbox), or one of the allowed addresses where Google is authoritative (Gmail, or Workspace)."""
    email = str(claims.get("email") or "").lower()
    if not email or claims.get("email_verified") not in (True, "true"):
        return False
    hosted_domain = str(claims.get("hd") or "").lower()
    if hosted_domain and hosted_domain in settings.STAFF_GOOGLE_DOMAINS and email.endswith("@" + hosted_domain):
        return True
    google_is_authoritative = bool(hosted_domain) or email.endswith(("@gmail.com", "@googlemail.com"))
    return google_is_authoritative and email in settings.STAFF_GOOGLE_EMAILS


def _refuse(request, message: str):
    """Back to the admin's login page, with why: allauth's own error pages are not mounted."""
    messages.error(request, message)
    return ImmediateHttpResponse(HttpResponseRedirect(reverse("admin:login")))


def _staff_user_for_new_identity(claims: dict) -> User | None:
    """The existing account a new allowed Google identity joins: the owner of the verified address,
    else a staff user an operator created with that email (createsuperuser); None: a new account."""
    email = claims["email"]
    address = EmailAddress.objects.select_related("user").filter(email__iexact=email, verified=True).first()
    if address is not None:
        return address.user
    return User.objects.filter(email__iexact=email, is_staff=True, deleted_at__isnull=True).order_by("pk").first()


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        claims = sociallogin.account.extra_data
        # The username carries no personal data, so nothing in it needs erasing on deletion.
        user.username = f"user_{user.public_id.hex}"
        user.display_name = (claims.get("name") or claims.get("given_name") or "")[:80]
        locale = str(claims.get("locale") or "").lower()
        if locale.startswith(tuple(User.Language.values)):
            user.language = locale[:2]
        return user

    def get_app(self, request, provider, client_id=None):
        # allauth's web flow runs only for the staff web client: with just the app's (hidden) client
        # ids configured, allauth would otherwise start it with one of them.
        if client_id is None:
            apps = self.list_apps(request, provider=provider)
            if not any(not app.settings.get("hidden") for app in apps):
                raise Http404("Staff Google sign-in is not configured.")
        return super().get_app(request, provider, client_id=client_id)

    def pre_social_login(self, request, sociallogin):
        """Only allauth's web flow gets here (the app's sign-in is accounts.services'), and that flow
        is mounted for the admin only: every login here is a staff sign-in.

        Allowed (staff_google_allowed): an identity already linked signs into its account, which
        becomes staff (a player's own account included); a new identity links to the account owning
        its address (_staff_user_for_new_identity) or gets a new staff account. Anything else is
        refused and nothing is written. An account the sign-in makes staff joins settings.STAFF_GOOGLE_GROUP.
        """
        claims = sociallogin.account.extra_data
        email = str(claims.get("email") or "").lower()
        if not staff_google_allowed(claims):
            logger.warning("staff google sign-in refused for %s (hd=%s)", email or "-", claims.get("hd") or "-")
            raise _refuse(
                request,
                _("The Google account %(email)s may not sign in to the admin. Ask an administrator to allow it.")
                % {"email": email or "?"},
            )
        new_identity = not sociallogin.is_existing
        with transaction.atomic():
            if not new_identity:
                user = sociallogin.user
            else:
                user = _staff_user_for_new_identity(claims)
                if user is not None and SocialAccount.objects.filter(user=user, provider="google").exists():
                    raise _refuse(request, _("That account is already linked to another Google account."))
            if user is not None and (not user.is_active or user.deleted_at is not None):
                raise _refuse(request, _("This account is disabled."))
            if user is None:
                user = self._staff_user_create(request, sociallogin, email=email)
                becomes_staff = True
            else:
                becomes_staff = not user.is_staff
            if not user.is_staff:
                logger.info("staff google sign-in: %s becomes staff", user.public_id)
                User.objects.filter(pk=user.pk).update(is_staff=True)
                user.is_staff = True
            if becomes_staff:
                # What a new staff member may do; an account already staff keeps the groups it was given.
                group, _made = staff_group_ensure()
                if group is not None:
                    user.groups.add(group)
            if new_identity:
                sociallogin.connect(request, user)

    def _staff_user_create(self, request, sociallogin, *, email: str) -> User:
        user = sociallogin.user  # shaped by populate_user above
        user.email = email
        user.is_staff = True
        user.set_unusable_password()
        user.full_clean()
        user.save()
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        logger.info("staff google sign-in: new staff account %s", user.public_id)
        return user

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        # Cancelled at Google, a bad state, a failed token exchange: back to the admin's login page.
        logger.warning("staff google sign-in failed: %s %r", error, exception)
        raise _refuse(request, _("Google sign-in did not complete. Try again, or sign in with your password."))
