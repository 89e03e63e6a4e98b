"""Billing URLs, mounted at /billing/."""

from django.urls import path

from billing.apis import BillingMeApi, BillingRefreshApi, RevenueCatWebhookApi

urlpatterns = [
    path("revenuecat/webhook", RevenueCatWebhookApi.as_view(), name="revenuecat-webhook"),
    path("me", BillingMeApi.as_view(), name="billing-me"),
    path("refresh", BillingRefreshApi.as_view(), name="billing-refresh"),
]
