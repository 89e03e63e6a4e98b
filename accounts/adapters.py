"""allauth's social-account adapter: the one place that shapes a new user from a Google identity."""

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from .models import User


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
