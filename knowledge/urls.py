"""The knowledge API, mounted at /api/."""

from django.urls import path

from . import apis

urlpatterns = [
    path("games", apis.GameListApi.as_view(), name="games"),
    path("knowledge/search", apis.RetrievalProbeApi.as_view(), name="knowledge-search"),
]
