"""The staff statistics API, GET /api/admin/stats: the dashboard's figures as JSON."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from .stats import STATS_DEFAULT_DAYS, STATS_MAX_DAYS, stats_range, stats_summary

_ERROR = inline_serializer(
    "StatsError",
    {
        "error": inline_serializer(
            "StatsErrorBody",
            {"code": serializers.CharField(), "message": serializers.CharField(), "details": serializers.DictField()},
        )
    },
)


class _Money(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=20, decimal_places=8, **kwargs)


class _StatsGroupSerializer(serializers.Serializer):
    questions = serializers.IntegerField()
    cost_usd = _Money()


class StatsTotalsSerializer(serializers.Serializer):
    questions = serializers.IntegerField(help_text="Asks logged, answered or failed.")
    answered = serializers.IntegerField(help_text="Asks without an error.")
    # DRF's serializer metaclass takes declared fields out of the class: no clash with Serializer.errors.
    errors = serializers.IntegerField()  # type: ignore[assignment]
    cost_usd = _Money(help_text="What the LLM calls cost, USD.")
    saved_usd = _Money(help_text="What the answers served from a cache would have cost, USD.")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    exact_hits = serializers.IntegerField()
    semantic_hits = serializers.IntegerField()
    exact_hit_rate = serializers.FloatField(allow_null=True, help_text="exact_hits / answered; null: none.")
    semantic_hit_rate = serializers.FloatField(allow_null=True, help_text="semantic_hits / answered.")
    latency_p50_ms = serializers.IntegerField(allow_null=True, help_text="Of answered asks, within 5%.")
    latency_p95_ms = serializers.IntegerField(allow_null=True)
    quota_rejections = serializers.IntegerField(help_text="Asks refused with 429 quota_exceeded (all games).")


class StatsDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    questions = serializers.IntegerField()
    # DRF's serializer metaclass takes declared fields out of the class: no clash with Serializer.errors.
    errors = serializers.IntegerField()  # type: ignore[assignment]
    cost_usd = _Money()
    saved_usd = _Money()
    exact_hits = serializers.IntegerField()
    semantic_hits = serializers.IntegerField()
    exact_hit_rate = serializers.FloatField(allow_null=True)
    semantic_hit_rate = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.IntegerField(allow_null=True)
    latency_p95_ms = serializers.IntegerField(allow_null=True)
    cost_by_model = serializers.DictField(child=_Money())
    quota_rejections = serializers.DictField(child=serializers.IntegerField(), help_text="By plan.")


class StatsModelSerializer(_StatsGroupSerializer):
    model = serializers.CharField()


class StatsGameSerializer(_StatsGroupSerializer):
    game = serializers.CharField()


class StatsPlanSerializer(_StatsGroupSerializer):
    plan = serializers.CharField()


class StatsErrorCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    count = serializers.IntegerField()


class StatsQuotaSerializer(serializers.Serializer):
    plan = serializers.CharField()
    count = serializers.IntegerField()


class StatsOutputSerializer(serializers.Serializer):
    # "from" is a Python keyword: the field is declared under another name and renamed in get_fields.
    from_ = serializers.DateField()
    to = serializers.DateField()
    game = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField(help_text="Days are days of this time zone.")
    totals = StatsTotalsSerializer()
    days = StatsDaySerializer(many=True, help_text="Every day of the range, zeros for days without traffic.")
    cost_by_model = StatsModelSerializer(many=True)
    top_games = StatsGameSerializer(many=True, help_text="At most 10, most questions first.")
    plans = StatsPlanSerializer(many=True)
    errors_by_code = StatsErrorCountSerializer(many=True)
    quota_rejections_by_plan = StatsQuotaSerializer(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class StatsApi(APIView):
    """Staff only: a JWT of a staff user, or a staff session of the admin."""

    authentication_classes = [JWTAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]

    class FilterSerializer(serializers.Serializer):
        from_ = serializers.DateField(required=False, input_formats=["iso-8601"])
        to = serializers.DateField(required=False, input_formats=["iso-8601"])
        game = serializers.SlugField(required=False, max_length=50)

        def get_fields(self):
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate(self, data):
            try:
                date_from, date_to = stats_range(data.get("from"), data.get("to"))
            except ValueError as exc:
                raise serializers.ValidationError({"from": str(exc)}) from None
            return {"date_from": date_from, "date_to": date_to, "game": data.get("game") or None}

    @extend_schema(
        operation_id="admin_stats",
        summary="Operations statistics (staff only)",
        description=(
            "Questions, cost by model, cache hit rates and money saved, latency percentiles, top games, "
            "errors and quota rejections per day of the service time zone (settings.TIME_ZONE), for "
            f"`from`..`to` inclusive (at most {STATS_MAX_DAYS} days; default the last {STATS_DEFAULT_DAYS} "
            "days up to today). Money is a decimal string in USD. `game` narrows everything except quota "
            "rejections, which are refused before the game is read."
        ),
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day, YYYY-MM-DD.", required=False),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, YYYY-MM-DD (inclusive).", required=False),
            OpenApiParameter("game", str, description="A game slug.", required=False),
        ],
        responses={
            200: StatsOutputSerializer,
            400: OpenApiResponse(_ERROR, description="validation_error: a bad date or range."),
            401: OpenApiResponse(_ERROR, description="not_authenticated"),
            403: OpenApiResponse(_ERROR, description="permission_denied: not a staff user."),
        },
        tags=["admin"],
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(StatsOutputSerializer(stats_summary(**filters.validated_data)).data)
