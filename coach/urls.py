from django.urls import path

from . import apis

urlpatterns = [
    path("ask", apis.AskApi.as_view(), name="coach-ask"),
    path("history", apis.HistoryListApi.as_view(), name="coach-history"),
    path("history/<uuid:question_id>", apis.HistoryDetailApi.as_view(), name="coach-history-detail"),
    path("answers/<uuid:question_id>/feedback", apis.FeedbackApi.as_view(), name="coach-feedback"),
]
