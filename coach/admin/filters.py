"""The question logs' list filters, read from the DailyStat rollup rather than the whole log table."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import DailyStat, QuestionLog
from ..stats import day_start, service_timezone

# Django's plain field filters list the distinct values of the whole table: a scan of every log row
# on each page view. These read the few distinct values from the DailyStat rollup instead, plus
# today's logs (by the created_at index) and the values the configuration already knows.


def _known_games() -> set[str]:
    from knowledge.models import Game

    return set(Game.objects.values_list("slug", flat=True))


def _known_plans() -> set[str]:
    from billing import plans

    return set(plans.PLAN_CALL_LIMITS)


def _known_models() -> set[str]:
    from billing import plans

    return {name for name, price in plans.MODEL_PRICES.items() if price[2] is not None}


class _RollupValuesFilter(admin.SimpleListFilter):
    field = ""

    def known(self) -> set[str]:
        return set()

    def lookups(self, request, model_admin):
        today = day_start(timezone.localdate(timezone=service_timezone()))
        values = (
            set(DailyStat.objects.order_by().values_list(self.field, flat=True).distinct())
            | set(QuestionLog.objects.filter(created_at__gte=today).values_list(self.field, flat=True).distinct())
            | self.known()
        )
        if self.value() is not None:
            values.add(self.value())  # a link to a value of an older day, not listed, still filters
        return [(value, value or gettext("(none)")) for value in sorted(values)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: self.value()})


class GameFilter(_RollupValuesFilter):
    title, parameter_name, field = _("game"), "game", "game"

    def known(self):
        return _known_games()


class PlanFilter(_RollupValuesFilter):
    title, parameter_name, field = _("plan"), "plan", "plan"

    def known(self):
        return _known_plans()


class ModelFilter(_RollupValuesFilter):
    title, parameter_name, field = _("model"), "model", "model"

    def known(self):
        return _known_models()


class ErrorFilter(admin.SimpleListFilter):
    title, parameter_name = _("error"), "error"

    def lookups(self, request, model_admin):
        codes = DailyStat.objects.exclude(error_code="").order_by().values_list("error_code", flat=True).distinct()
        return [("any", gettext("any error")), ("none", gettext("no error")), *((code, code) for code in sorted(codes))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "any":
            return queryset.exclude(error_code="")
        if value == "none":
            return queryset.filter(error_code="")
        return queryset.filter(error_code=value)
