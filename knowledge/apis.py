"""The knowledge API: the game pickers, the shared retrieval-filter validator, a staff search probe."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from ai.embeddings import get_embedder

from . import search, selectors
from .models import CATEGORY_MAX_LENGTH, TAG_MAX_LENGTH

MAX_TAGS = 20


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RetrievalFilterSerializer(serializers.Serializer):
    """{game, category, tags}: validated the same way wherever a client filters retrieval.

    game: a known game's slug (else 400 unknown_game); category: optional, at most 50 characters;
    tags: optional list of strings (any of them matches), at most 20 of 50 characters each.
    validated_data: {"game": slug, "category": str | None, "tags": list[str]} (tags deduplicated).
    """

    game = StrictCharField(max_length=50)
    category = StrictCharField(max_length=CATEGORY_MAX_LENGTH, required=False, allow_null=True, allow_blank=True)
    tags = serializers.ListField(
        child=StrictCharField(max_length=TAG_MAX_LENGTH), required=False, allow_null=True, max_length=MAX_TAGS
    )

    def validate_game(self, value: str) -> str:
        return selectors.game_get(slug=value).slug  # raises the 400 unknown_game error itself

    def validate(self, attrs):
        attrs["category"] = attrs.get("category") or None
        attrs["tags"] = list(dict.fromkeys(attrs.get("tags") or []))
        return attrs


class GameSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name_ko = serializers.CharField()
    name_en = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    tags = serializers.ListField(child=serializers.CharField())


class GameListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        games = GameSerializer(many=True)

    @extend_schema(
        summary="Games with the categories and tags in use, for the app's pickers", responses=OutputSerializer
    )
    def get(self, request):
        return Response(self.OutputSerializer({"games": selectors.games_with_pickers()}).data)


class RetrievalProbeApi(APIView):
    """Staff only: what retrieval returns for a question, with distances and the plan it used."""

    permission_classes = [IsAdminUser]

    class InputSerializer(RetrievalFilterSerializer):
        question = StrictCharField(max_length=2000)
        k = serializers.IntegerField(min_value=1, max_value=search.MAX_K, required=False)

    class OutputSerializer(serializers.Serializer):
        class HitSerializer(serializers.Serializer):
            chunk_id = serializers.IntegerField()
            document_id = serializers.IntegerField()
            title = serializers.CharField()
            url = serializers.CharField()
            text = serializers.CharField()
            distance = serializers.FloatField()
            position = serializers.IntegerField()
            start_time = serializers.FloatField(allow_null=True)

        hits = HitSerializer(many=True)
        plan = serializers.CharField()
        filtered_rows = serializers.IntegerField()
        model = serializers.CharField()
        ms = serializers.FloatField()

    @extend_schema(
        summary="Staff: retrieval for a question (top-k chunks with distances)",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        embedder = get_embedder()
        filters = data.validated_data
        hits, plan = search.chunk_search_with_plan(
            game=filters["game"],
            embedding=embedder.embed([filters["question"]], query=True)[0],
            model_name=embedder.model_name,
            category=filters["category"],
            tags=filters["tags"],
            k=filters.get("k"),
        )
        body = {
            "hits": hits,
            "plan": plan.path,
            "filtered_rows": plan.filtered_rows,
            "model": embedder.model_name,
            "ms": plan.ms,
        }
        return Response(self.OutputSerializer(body).data)
