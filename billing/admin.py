"""Admin: plans (read-only, from billing/plans.py), subscriptions, webhook events, usage, plan overrides."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from billing.errors import RevenueCatUnavailable
from billing.models import (
    CallRecord,
    PlanCatalog,
    PlanOverride,
    SubscriberAlias,
    Subscription,
    UsageCounter,
    WebhookEvent,
)
from billing.plans import MODEL_PRICES, plans_all
from billing.services import plan_override_end, plan_override_grant, subscription_sync, webhook_event_requeue

_PERIODS = {"week": _("week"), "month": _("month")}


def period_label(period: str) -> str:
    """A plan's period ("month") in the staff member's language."""
    return str(_PERIODS.get(period, period))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PlanCatalog)
class PlanCatalogAdmin(ReadOnlyAdmin):
    """The plans and model prices as configured (billing/plans.py + PLANS_EXTRA_JSON); edited in code only."""

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        plans = sorted(plans_all().values(), key=lambda plan: plan.rank)
        prices = [(model, *price) for model, price in MODEL_PRICES.items()]
        context = {**self.admin_site.each_context(request), "title": gettext("Plans"), "plans": plans, "prices": prices,
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/billing/plans.html", context)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "plan", "store", "product_id", "expires_at", "will_renew", "is_sandbox", "updated_at")
    list_filter = ("plan", "store", "will_renew", "is_sandbox")
    search_fields = ("user__username", "user__email", "=user__public_id", "product_id")
    list_select_related = ("user",)
    actions = ["refresh_from_revenuecat"]

    @admin.action(description=_("Re-read from RevenueCat"))
    def refresh_from_revenuecat(self, request, queryset):
        for subscription in queryset.select_related("user"):
            try:
                subscription_sync(user=subscription.user)
            except RevenueCatUnavailable as exc:
                error = gettext("RevenueCat unavailable: %(error)s") % {"error": exc}
                self.message_user(request, error, messages.ERROR)
                return
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d subscription re-read.", "%(count)d subscriptions re-read.",
                                            count) % {"count": count})  # fmt: skip


def _pre(text: str):
    return format_html('<pre class="billing-pre" style="white-space: pre-wrap; margin: 0">{}</pre>', text)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "type", "event_id", "app_user_id", "environment", "status", "attempts", "note",
                    "error_short")  # fmt: skip
    list_filter = ("status", "type", "environment")
    search_fields = ("=event_id", "app_user_id")
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    readonly_fields = ("payload_pretty", "error_pre", "user_link")
    fieldsets = (
        (_("Event"), {"fields": (("type", "event_id"), ("app_user_id", "user_link"), ("environment",
                                                                                   "event_timestamp_ms"),
                              "received_at")}),
        (_("Processing"), {"fields": (("status", "attempts"), "note", "error_pre", ("next_attempt_at",
                                                                                  "processed_at"))}),
        (_("Payload as received"), {"fields": ("payload_pretty",)}),
    )  # fmt: skip

    @admin.display(description=_("error"))
    def error_short(self, event):
        return event.error if len(event.error) <= 80 else event.error[:79] + "…"

    @admin.display(description=_("error"))
    def error_pre(self, event):
        return _pre(event.error) if event.error else "-"

    @admin.display(description=_("user"))
    def user_link(self, event):
        if event.user_id is None:
            return "-"
        url = reverse("admin:accounts_user_change", args=[event.user_id])
        return format_html('<a href="{}">{}</a>', url, event.user)

    @admin.display(description=_("payload"))
    def payload_pretty(self, event):
        # From the raw body, not the jsonb column: PostgreSQL reorders keys, staff compare with RevenueCat's
        # dashboard. A body that is not JSON is shown as it came.
        try:
            return _pre(json.dumps(json.loads(event.raw_body), indent=2, ensure_ascii=False))
        except ValueError:
            return _pre(event.raw_body)

    def has_reprocess_permission(self, request):
        # Viewing events is not enough to change what happens to them.
        return request.user.has_perm(f"billing.{get_permission_codename('change', self.opts)}")

    @admin.action(description=_("Process again (pending or failed events)"), permissions=["reprocess"])
    def reprocess(self, request, queryset):
        pks = list(queryset.values_list("pk", flat=True))
        queued = sum(1 for pk in pks if webhook_event_requeue(event_pk=pk))
        skipped = len(pks) - queued
        self.message_user(
            request,
            ngettext("%(count)d event queued for processing.", "%(count)d events queued for processing.", queued)
            % {"count": queued},
        )
        if skipped:
            self.message_user(request, ngettext(
                "%(count)d event skipped: only pending or failed events are processed again; use “Re-read from "
                "RevenueCat” on the subscription for the others.",
                "%(count)d events skipped: only pending or failed events are processed again; use “Re-read from "
                "RevenueCat” on the subscription for the others.", skipped) % {"count": skipped},
                messages.WARNING)  # fmt: skip


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


# --- plan overrides ------------------------------------------------------------------------------------


def _plan_choices():
    plans = sorted(plans_all().values(), key=lambda plan: plan.rank)
    label = gettext("%(plan)s (%(calls)s calls a %(period)s, %(model)s)")
    return [("", "---------"), *((plan.name, label % {"plan": plan.name, "calls": plan.calls, "model": plan.model,
                                                      "period": period_label(plan.period)})
                                 for plan in plans)]  # fmt: skip


def _override_state(override: PlanOverride) -> str:
    if override.pk is None:
        return "-"
    if override.ended_at is not None:
        return pgettext("override state", "ended")
    return pgettext("override state", "active") if override.is_active() else pgettext("override state", "expired")


def _override_ended(override: PlanOverride):
    if override.pk is None:
        return "-"
    if override.ended_at is not None:
        return gettext("ended %(when)s by %(staff)s") % {
            "when": f"{timezone.localtime(override.ended_at):%Y-%m-%d %H:%M}", "staff": override.ended_by
        }  # fmt: skip
    if not override.is_active():
        return pgettext("override state", "expired")
    url = reverse("admin:billing_planoverride_end", args=[override.pk])
    return format_html('<a class="button" href="{}">{}</a>', url, gettext("End now"))


class PlanOverrideForm(forms.ModelForm):
    """Grant form: a configured plan, a required reason, an optional expiry in the future."""

    plan = forms.ChoiceField(choices=_plan_choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
                           help_text=_("Required: why (ticket, promotion, incident). Kept for audit."))  # fmt: skip
    expires_at = forms.SplitDateTimeField(required=False, widget=AdminSplitDateTime,
                                          help_text=_("Empty: until staff end it."))  # fmt: skip

    class Meta:
        model = PlanOverride
        fields = ("plan", "note", "expires_at")

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError(_("The override must expire in the future."))
        return expires_at


class PlanOverrideFormSet(BaseInlineFormSet):
    staff = None  # set per request by PlanOverrideInline.get_formset

    def save_new(self, form, commit=True):
        # Through the service, never form.save(): the grant is recorded with who gave it, and checked again.
        return plan_override_grant(user=self.instance, plan=form.cleaned_data["plan"], note=form.cleaned_data["note"],
                                   expires_at=form.cleaned_data.get("expires_at"), created_by=self.staff)  # fmt: skip


class PlanOverrideInline(admin.TabularInline):
    """On the user's admin page: the override history, newest first; staff add rows, never change or delete one."""

    model = PlanOverride
    fk_name = "user"
    form = PlanOverrideForm
    formset = PlanOverrideFormSet
    extra = 1
    can_delete = False
    fields = ("plan", "note", "expires_at", "state", "granted", "ended")
    readonly_fields = ("state", "granted", "ended")
    ordering = ("-created_at", "-pk")
    show_change_link = True  # to the row in the audit list
    verbose_name = _("plan override")
    verbose_name_plural = _("plan overrides (the newest active one decides the plan, over the store subscription)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "ended_by")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.staff = request.user
        return formset

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("state"))
    def state(self, override):
        return _override_state(override)

    @admin.display(description=_("granted"))
    def granted(self, override):
        if override.pk is None:
            return "-"
        return gettext("%(when)s by %(staff)s") % {
            "when": f"{timezone.localtime(override.created_at):%Y-%m-%d %H:%M}", "staff": override.created_by
        }  # fmt: skip

    @admin.display(description=_("ended"))
    def ended(self, override):
        return _override_ended(override)


class PlanOverrideEndForm(forms.Form):
    """Nothing to fill in: the POST is the confirmation (and carries the CSRF token)."""


@admin.register(PlanOverride)
class PlanOverrideAdmin(ReadOnlyAdmin):
    """Every override ever granted, for audit; they are granted on the user's page and ended from either."""

    list_display = ("created_at", "user", "plan", "state", "expires_at", "created_by", "ended", "note_short")
    list_filter = ("plan", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email", "=user__public_id", "note")
    list_select_related = ("user", "created_by", "ended_by")
    date_hierarchy = "created_at"
    readonly_fields = ("state", "ended", "user_link")
    fields = ("user_link", "plan", "note", "state", "created_by", "created_at", "expires_at", "ended")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("state"))
    def state(self, override):
        return _override_state(override)

    @admin.display(description=_("ended"))
    def ended(self, override):
        return _override_ended(override)

    @admin.display(description=_("note"))
    def note_short(self, override):
        return override.note if len(override.note) <= 80 else override.note[:79] + "…"

    @admin.display(description=_("user"))
    def user_link(self, override):
        url = reverse("admin:accounts_user_change", args=[override.user_id])
        return format_html('<a href="{}">{}</a>', url, override.user)

    def get_urls(self):
        end = path("<int:override_id>/end/", self.admin_site.admin_view(self.end_view), name="billing_planoverride_end")
        return [end, *super().get_urls()]

    def has_end_permission(self, request) -> bool:
        # Whoever may grant an override may end one.
        return request.user.has_perm(f"billing.{get_permission_codename('add', self.opts)}")

    def end_view(self, request, override_id: int):
        if not self.has_end_permission(request):
            raise PermissionDenied
        override = get_object_or_404(PlanOverride.objects.select_related("user", "created_by"), pk=override_id)
        try:
            back = reverse("admin:accounts_user_change", args=[override.user_id])
        except NoReverseMatch:  # pragma: no cover - accounts always registers its admin
            back = reverse("admin:billing_planoverride_changelist")
        if not override.is_active():
            state = _override_state(override)
            self.message_user(
                request, gettext("This override is already %(state)s.") % {"state": state}, messages.WARNING
            )
            return HttpResponseRedirect(back)
        if request.method == "POST" and PlanOverrideEndForm(request.POST).is_valid():
            try:
                plan_override_end(override=override, ended_by=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, gettext("The %(plan)s override for %(user)s was ended.") % {
                    "plan": override.plan, "user": override.user
                })  # fmt: skip
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("End this plan override?"),
            "opts": self.opts,
            "override": override,
            "back_url": back,
        }
        return TemplateResponse(request, "admin/billing/planoverride_end.html", context)
