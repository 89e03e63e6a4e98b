"""The coach's API: ask (JSON or Server-Sent Events), history, feedback. Thin views over services."""

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .models import Feedback
from .services.feedback import feedback_submit


class SourceSerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    chunk_id = serializers.IntegerField()
    start_time = serializers.FloatField(required=False, allow_null=True)


class QuestionLogSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField(allow_null=True)
    game = serializers.CharField()
    category = serializers.CharField()
    question = serializers.CharField()
    answer = serializers.CharField()
    sources = SourceSerializer(many=True)
    cache = serializers.CharField()
    model = serializers.CharField()
    created_at = serializers.DateTimeField()
    rating = serializers.SerializerMethodField()

    def get_rating(self, log) -> str | None:
        try:
            return log.feedback.rating
        except ObjectDoesNotExist:
            return None


class HistoryPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"


class HistoryListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        game = serializers.SlugField(required=False, max_length=50)
        conversation_id = serializers.UUIDField(required=False)

    @extend_schema(
        summary="The user's questions and answers, newest first",
        parameters=[FilterSerializer, OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
        responses=QuestionLogSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        logs = selectors.question_history(user=request.user, **filters.validated_data)
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(logs, request, view=self)
        return paginator.get_paginated_response(QuestionLogSerializer(page, many=True).data)


class HistoryDetailApi(APIView):
    @extend_schema(summary="One of the user's answers", responses=QuestionLogSerializer)
    def get(self, request, question_id):
        try:
            log = selectors.question_get(user=request.user, question_id=question_id)
        except ObjectDoesNotExist:
            raise NotFound("No such answer.") from None
        return Response(QuestionLogSerializer(log).data)


class FeedbackApi(APIView):
    class InputSerializer(serializers.Serializer):
        rating = serializers.ChoiceField(choices=Feedback.Rating.choices)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    class OutputSerializer(serializers.Serializer):
        answer_id = serializers.UUIDField()
        rating = serializers.CharField()
        comment = serializers.CharField()

    @extend_schema(summary="Rate an answer up or down", request=InputSerializer, responses=OutputSerializer)
    def post(self, request, question_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answer = selectors.question_get(user=request.user, question_id=question_id)
        except ObjectDoesNotExist:
            raise NotFound("No such answer.") from None
        feedback = feedback_submit(user=request.user, answer=answer, **data.validated_data)
        return Response(
            self.OutputSerializer({"answer_id": answer.id, "rating": feedback.rating, "comment": feedback.comment}).data
        )
