"""Admin: plans (read-only, from config/plans.py), subscriptions, webhook events, usage."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from billing.errors import RevenueCatUnavailable
from billing.models import CallRecord, PlanCatalog, SubscriberAlias, Subscription, UsageCounter, WebhookEvent
from billing.services import subscription_sync, webhook_event_requeue
from config.plans import MODEL_PRICES, plans_all


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PlanCatalog)
class PlanCatalogAdmin(ReadOnlyAdmin):
    """The plans and model prices as configured (config/plans.py + PLANS_EXTRA_JSON); edited in code only."""

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        plans = sorted(plans_all().values(), key=lambda plan: plan.rank)
        prices = [(model, *price) for model, price in MODEL_PRICES.items()]
        context = {**self.admin_site.each_context(request), "title": "Plans", "plans": plans, "prices": prices,
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/billing/plans.html", context)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "plan", "store", "product_id", "expires_at", "will_renew", "is_sandbox", "updated_at")
    list_filter = ("plan", "store", "will_renew", "is_sandbox")
    search_fields = ("user__username", "user__email", "=user__public_id", "product_id")
    list_select_related = ("user",)
    actions = ["refresh_from_revenuecat"]

    @admin.action(description="Re-read from RevenueCat")
    def refresh_from_revenuecat(self, request, queryset):
        for subscription in queryset.select_related("user"):
            try:
                subscription_sync(user=subscription.user)
            except RevenueCatUnavailable as exc:
                self.message_user(request, f"RevenueCat unavailable: {exc}", messages.ERROR)
                return
        self.message_user(request, f"{queryset.count()} subscription(s) re-read.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "event_id", "app_user_id", "environment", "status", "attempts", "note")
    list_filter = ("status", "type", "environment")
    search_fields = ("=event_id", "app_user_id")
    date_hierarchy = "received_at"
    actions = ["reprocess"]

    @admin.action(description="Process again (pending or failed events)")
    def reprocess(self, request, queryset):
        for event in queryset:
            webhook_event_requeue(event_pk=event.pk)
        self.message_user(request, "Queued for processing.")


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdmin):
    list_display = ("user", "period", "period_start", "used", "updated_at")
    list_filter = ("period", "period_start")
    search_fields = ("user__username", "=user__public_id")
    list_select_related = ("user",)


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = ("user", "plan", "created_at", "released_at")
    list_filter = ("plan",)
    search_fields = ("user__username", "=user__public_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"


@admin.register(SubscriberAlias)
class SubscriberAliasAdmin(ReadOnlyAdmin):
    list_display = ("app_user_id", "user", "created_at")
    search_fields = ("app_user_id", "user__username")
