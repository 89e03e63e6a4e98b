"""{% staff_google_login_url as url %}: where the admin's "Sign in with Google" button posts, or "" when
no staff web client is configured (STAFF_GOOGLE_CLIENT_ID / STAFF_GOOGLE_CLIENT_SECRET)."""

from django import template
from django.urls import reverse

from accounts.adapters import staff_google_configured

register = template.Library()


@register.simple_tag
def staff_google_login_url() -> str:
    return reverse("google_login") if staff_google_configured() else ""
