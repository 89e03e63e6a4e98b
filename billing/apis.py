"""Billing endpoints: the RevenueCat webhook, the player's plan and usage, and a subscription refresh."""

import hmac
import logging

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.errors import RevenueCatUnavailable, WebhookNotConfigured, WebhookUnauthorized
from billing.selectors import usage_summary
from billing.services import subscription_sync, webhook_event_receive
from config.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

_ERROR = inline_serializer(
    "BillingError",
    {"error": inline_serializer("BillingErrorBody", {"code": serializers.CharField(),
                                                     "message": serializers.CharField(),
                                                     "details": serializers.DictField()})},
)  # fmt: skip


class BillingSubscriptionSerializer(serializers.Serializer):
    store = serializers.CharField()
    product_id = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    will_renew = serializers.BooleanField()
    billing_issue = serializers.BooleanField()


class BillingOverrideSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="The plan support granted; it wins over the store subscription.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: until support ends it.")


class BillingUsageSerializer(serializers.Serializer):
    plan = serializers.CharField()
    model = serializers.CharField()
    period = serializers.ChoiceField(choices=["week", "month"])
    period_start = serializers.DateField()
    used = serializers.IntegerField()
    limit = serializers.IntegerField()
    remaining = serializers.IntegerField()
    resets_at = serializers.DateTimeField()
    prompt_tokens = serializers.IntegerField()
    response_tokens = serializers.IntegerField()
    subscription = BillingSubscriptionSerializer(allow_null=True)
    override = BillingOverrideSerializer(allow_null=True, help_text="A plan granted by support, if one is active.")


class WebhookReceiptSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["received", "duplicate"])
    event_id = serializers.CharField()


class BillingMeApi(APIView):
    @extend_schema(summary="My plan and usage this period", responses={200: BillingUsageSerializer, 401: _ERROR})
    def get(self, request):
        return Response(BillingUsageSerializer(usage_summary(user=request.user)).data)


class BillingRefreshApi(APIView):
    @extend_schema(
        summary="Re-read my subscription from RevenueCat (after a purchase or a restore in the app)",
        request=None,
        responses={200: BillingUsageSerializer, 401: _ERROR, 503: _ERROR},
    )
    def post(self, request):
        try:
            subscription_sync(user=request.user)
        except RevenueCatUnavailable as exc:
            raise ServiceUnavailable(_("The store cannot be reached; try again shortly.")) from exc
        return Response(BillingUsageSerializer(usage_summary(user=request.user)).data)


class RevenueCatWebhookApi(APIView):
    # RevenueCat authenticates with the shared Authorization value, not a user's token.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="RevenueCat webhook (Authorization: the value set on the RevenueCat dashboard)",
        request=OpenApiTypes.OBJECT,
        responses={200: WebhookReceiptSerializer, 400: _ERROR, 401: _ERROR, 503: _ERROR},
        auth=[],
    )
    def post(self, request):
        expected = settings.REVENUECAT_WEBHOOK_AUTH
        if not expected:
            # Never accept a delivery unauthenticated: anyone could post purchases. `check --deploy` says so too (E004).
            logger.warning("RevenueCat webhook refused: REVENUECAT_WEBHOOK_AUTH is not set")
            raise WebhookNotConfigured()
        given = request.META.get("HTTP_AUTHORIZATION", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookUnauthorized()
        event, created = webhook_event_receive(raw_body=request.body)
        return Response(WebhookReceiptSerializer({"status": "received" if created else "duplicate",
                                               "event_id": event.event_id}).data)  # fmt: skip
