"""The URL map: the API under /api, sign-in under /auth, billing under /billing, the admin console."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health
from .observability.views import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("auth/", include("accounts.urls")),
    path("billing/", include("billing.urls")),
    path("api/", include("knowledge.urls")),
    path("api/coach/", include("coach.urls")),
    path("api/admin/", include("coach.admin_urls")),
]
