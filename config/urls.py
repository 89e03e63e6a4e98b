"""The URL map: the API under /api, sign-in under /auth, billing under /billing, the admin console."""

from allauth.socialaccount.providers.google.provider import GoogleProvider
from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health
from .observability.views import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # Staff sign in to the admin with Google: allauth's login and callback views for Google only
    # (no signup or account pages, no One Tap endpoint); accounts.adapters decides who gets in.
    path("staff/auth/", include(default_urlpatterns(GoogleProvider))),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("auth/", include("accounts.urls")),
    path("billing/", include("billing.urls")),
    path("api/", include("knowledge.urls")),
    path("api/coach/", include("coach.urls")),
    path("api/admin/", include("coach.admin_urls")),
]
