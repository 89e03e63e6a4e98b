"""Users in the admin: profile, plan and calls this period, last question, and staff plan overrides."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Left
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.admin import PlanOverrideInline, period_label
from billing.selectors import users_annotate_plan_usage, users_plan_usage
from coach.models import QuestionLog

from .models import User

_QUESTION_CHARS = 80


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "display_name", "plan", "calls_this_period", "last_question", "language",
                    "is_staff", "date_joined", "deleted_at")  # fmt: skip
    list_filter = (*BaseUserAdmin.list_filter, "deleted_at")
    # public_id is what RevenueCat and support see; search by it.
    search_fields = (*BaseUserAdmin.search_fields, "public_id")
    # Deletion is the player's act (DELETE /auth/me), which also revokes tokens and erases data:
    # setting deleted_at by hand here would do neither.
    readonly_fields = ("public_id", "deleted_at", "plan", "calls_this_period", "last_question")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Profile"), {"fields": ("public_id", "display_name", "language", "favourite_games", "deleted_at")}),
        (_("Plan and usage"), {"fields": ("plan", "calls_this_period", "last_question")}),
    )
    inlines = (PlanOverrideInline,)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()  # overrides are for existing accounts

    def get_queryset(self, request):
        # Everything the list shows comes with the users in one query (subqueries over indexed columns).
        latest = QuestionLog.objects.filter(user_id=OuterRef("pk")).order_by("-created_at")
        opening = latest.annotate(opening=Left("question", _QUESTION_CHARS + 1)).values("opening")
        return users_annotate_plan_usage(super().get_queryset(request)).annotate(
            last_question_id=Subquery(latest.values("id")[:1]),
            last_question_text=Subquery(opening[:1]),
            last_question_at=Subquery(latest.values("created_at")[:1]),
        )

    def _usage(self, user) -> dict | None:
        return users_plan_usage(user) if hasattr(user, "plan_override_name") else None

    @admin.display(description=_("plan"))
    def plan(self, user):
        usage = self._usage(user)
        if usage is None:
            return "-"
        if usage["overridden"]:
            return format_html("{} <small>({})</small>", usage["plan"].name, gettext("staff override"))
        return usage["plan"].name

    @admin.display(description=_("calls this period"))
    def calls_this_period(self, user):
        usage = self._usage(user)
        if usage is None:
            return "-"
        plan = usage["plan"]
        numbers = {"used": usage["used"], "remaining": usage["remaining"], "calls": plan.calls}
        return gettext("%(used)s used, %(remaining)s left of %(calls)s a %(period)s") % {
            **numbers, "period": period_label(plan.period)
        }  # fmt: skip

    @admin.display(description=_("last question"), ordering="last_question_at")
    def last_question(self, user):
        question_id = getattr(user, "last_question_id", None)
        if question_id is None:
            return "-"
        text = user.last_question_text
        if len(text) > _QUESTION_CHARS:
            text = text[: _QUESTION_CHARS - 1] + "…"
        try:
            url = reverse("admin:coach_questionlog_change", args=[question_id])
        except NoReverseMatch:  # pragma: no cover - the coach admin is always installed with accounts
            return text
        return format_html('<a href="{}" title="{}">{}</a>', url, user.last_question_at, text)
