"""Staff-only API under /api/admin/ (config/urls.py mounts it)."""

from django.urls import path

from . import admin_apis

urlpatterns = [
    path("stats", admin_apis.StatsApi.as_view(), name="admin-stats"),
]
