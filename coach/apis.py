"""The coach's API: ask (JSON or Server-Sent Events), history, feedback. Thin views over services."""

import json

from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from config.errors import ApplicationError, error_body
from config.views import EventLoopAPIView
from knowledge.apis import RetrievalFilterSerializer, StrictCharField
from knowledge.games import afilters_check, agame_get

from . import selectors
from .models import Feedback, QuestionLog
from .services.ask.admission import Ask, ask_player
from .services.ask.payload import Delta
from .services.ask.pipeline import question_ask_events
from .services.feedback import feedback_submit
from .services.prompt import question_language


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


class HistoryPageSerializer(serializers.Serializer):
    """One page of the history as HistoryPagination returns it (the schema showed a bare list)."""

    next = serializers.URLField(allow_null=True, help_text="The next (older) page; null on the last.")
    previous = serializers.URLField(allow_null=True)
    results = QuestionLogSerializer(many=True)


class HistoryListApi(APIView):
    class HistoryFilterSerializer(serializers.Serializer):
        game = serializers.SlugField(required=False, max_length=50)
        conversation_id = serializers.UUIDField(required=False)

    @extend_schema(
        summary="The user's questions and answers, newest first",
        operation_id="coach_history_list",
        parameters=[HistoryFilterSerializer, OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
        responses={200: HistoryPageSerializer, 404: OpenApiResponse(description="not_found: the cursor is invalid.")},
    )
    def get(self, request):
        filters = self.HistoryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        logs = selectors.question_history(user=request.user, **filters.validated_data)
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(logs, request, view=self)
        return paginator.get_paginated_response(QuestionLogSerializer(page, many=True).data)


class HistoryDetailApi(APIView):
    @extend_schema(
        summary="One of the user's answers", operation_id="coach_history_get", responses=QuestionLogSerializer
    )
    def get(self, request, question_id):
        try:
            log = selectors.question_get(user=request.user, question_id=question_id)
        except ObjectDoesNotExist:
            raise NotFound("No such answer.") from None
        return Response(QuestionLogSerializer(log).data)


class FeedbackApi(APIView):
    class FeedbackInputSerializer(serializers.Serializer):
        rating = serializers.ChoiceField(choices=Feedback.Rating.choices)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    class FeedbackOutputSerializer(serializers.Serializer):
        answer_id = serializers.UUIDField()
        rating = serializers.CharField()
        comment = serializers.CharField()

    @extend_schema(
        summary="Rate an answer up or down", request=FeedbackInputSerializer, responses=FeedbackOutputSerializer
    )
    def post(self, request, question_id):
        data = self.FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            answer = selectors.question_get(user=request.user, question_id=question_id)
        except ObjectDoesNotExist:
            raise NotFound("No such answer.") from None
        feedback = feedback_submit(user=request.user, answer=answer, **data.validated_data)
        return Response(
            self.FeedbackOutputSerializer(
                {"answer_id": answer.id, "rating": feedback.rating, "comment": feedback.comment}
            ).data
        )


class _JsonOnly(BaseContentNegotiation):
    """Errors are always JSON; the ask view itself decides to stream from the Accept header."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _sse(event: str, data: dict | str) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class TokenPlayerAuthentication(JWTStatelessUserAuthentication):
    """The token's player with no query: signature, expiry and claims are checked on the loop, and the
    player is read by the ask pipeline. The id is the integer our users have (the token carries a
    string), so throttles and log lines see the same user_id as on every other endpoint."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        try:
            user.id = int(user.id)
        except (TypeError, ValueError):
            raise InvalidToken("Token contained no recognizable user identification") from None
        return user


class AskApi(EventLoopAPIView):
    content_negotiation_class = _JsonOnly
    # The token's signature and expiry are checked here, on the loop; the player is read from the
    # database, with their plan and calls left, in the pipeline's one worker-thread trip before an
    # answer (coach.services.ask: admission, or an exact hit's log row).
    authentication_classes = [TokenPlayerAuthentication]
    throttle_scope = "ask"  # config.throttles: THROTTLE_ASK_RATE per player, besides the plan's quota
    ask: Ask | None = None
    calls_left: int | None = None  # read for a 400 (below); an ask keeps its own

    def authenticates_on_loop(self, request) -> bool:
        return True

    class AskInputSerializer(RetrievalFilterSerializer):
        """Validated on the event loop: nothing here reads the database (the game, its categories and tags
        are checked after, against knowledge.games' copies)."""

        question = StrictCharField(max_length=2000)
        conversation_id = serializers.UUIDField(required=False, allow_null=True)

        def validate_game(self, value: str) -> str:
            return value  # the view checks it against knowledge.games' copy of the table

        def validate_question(self, value: str) -> str:
            if not value.strip():
                raise serializers.ValidationError(_("The question is empty."))
            return value.strip()

    class AskOutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        answer = serializers.CharField()
        sources = SourceSerializer(many=True)
        cache = serializers.ChoiceField(choices=QuestionLog.Cache.choices)
        model = serializers.CharField()
        usage = serializers.DictField(child=serializers.IntegerField())
        cost_usd = serializers.CharField(help_text="USD as a decimal string, e.g. 0.00225; 0 on a cache hit")
        conversation_id = serializers.UUIDField(allow_null=True)

    @extend_schema(
        summary="Ask the coach",
        description=(
            "Answers from the game's curated sources within the plan's limits. One call of the plan is spent "
            "(X-Plan-Remaining says what is left; 429 quota_exceeded when none); a resend of the same question "
            "within 5 minutes comes from the exact cache and costs nothing, even with no call left. "
            "`category` and `tags` must be the game's (GET /api/games, plus the categories staff set on it): "
            "400 unknown_category or unknown_tag otherwise, with no call spent. "
            "With `Accept: text/event-stream` "
            "the answer streams as Server-Sent Events: `delta` events ({text}) then one `done` event with the "
            "same body as the JSON answer (or an `error` event in the error shape)."
        ),
        request=AskInputSerializer,
        responses={200: AskOutputSerializer},
        # The Bearer JWT scheme: security requirement objects, which drf-spectacular takes though it types str.
        auth=[{"jwtAuth": []}],  # type: ignore[list-item]
    )
    async def post(self, request):
        data = self.AskInputSerializer(data=request.data)
        try:
            data.is_valid(raise_exception=True)
            values = data.validated_data
            game = await agame_get(slug=values["game"])
            await afilters_check(game=game, category=values["category"], tags=values["tags"])
        except (serializers.ValidationError, ApplicationError):
            # Checked on the loop, before the player is read: a deleted or deactivated player's token is
            # still a 401 first, and the 400 says the calls left like every answer.
            _, usage = await sync_to_async(ask_player)(user_id=request.user.pk)
            self.calls_left = usage["remaining"]
            raise
        game_name = game.name_ko if question_language(values["question"]) == "ko" else game.name_en
        self.ask = ask = Ask(
            user_id=request.user.pk, game=game.slug, game_name=game_name,
            question=values["question"], category=values["category"], tags=values["tags"],
            conversation_id=values.get("conversation_id"),
        )  # fmt: skip
        wants_stream = "text/event-stream" in request.META.get("HTTP_ACCEPT", "")
        events = question_ask_events(ask, stream=wants_stream)
        first = await anext(events)  # failures before the first word are plain JSON errors
        if not wants_stream:
            return Response(first, headers={"X-Cost-USD": first["cost_usd"]})
        response = StreamingHttpResponse(_event_stream(first, events), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer, and every error once the plan was read, says the calls left (X-Plan-Remaining)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        remaining = self.ask.plan_remaining() if self.ask is not None else self.calls_left
        if remaining is not None:
            response["X-Plan-Remaining"] = str(remaining)
        return response


async def _event_stream(first, events):
    item = first
    try:
        while True:
            if isinstance(item, Delta):
                yield _sse("delta", {"text": item.text})
            else:
                yield _sse("done", item)
                return
            item = await anext(events)
    except ApplicationError as exc:
        yield _sse("error", error_body(exc.code, exc.message, exc.details))
    finally:
        await events.aclose()
