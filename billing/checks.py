"""System checks: the plan table and RevenueCat mappings are valid, a deploy has RevenueCat's secrets; /readyz too."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from billing.plans import FREE, plans_all
from config.health import readiness_extra


@register()
def plans_are_valid(app_configs, **kwargs):
    try:
        plans = plans_all()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="billing.E001")]
    errors = []
    if FREE not in plans:
        errors.append(Error("the free plan must exist", id="billing.E002"))
    mapped = {**settings.REVENUECAT_ENTITLEMENT_PLANS, **settings.REVENUECAT_PRODUCT_PLANS}
    for source, plan in mapped.items():
        if plan not in plans:
            errors.append(Error(f"RevenueCat id {source!r} maps to unknown plan {plan!r}", id="billing.E003"))
    return errors


@register(deploy=True)
def revenuecat_is_configured(app_configs, **kwargs):
    # Settings stay importable without the secrets (development, the benchmark); a deploy is told here instead.
    if settings.DEBUG:
        return []
    errors = []
    if not settings.REVENUECAT_WEBHOOK_AUTH:
        errors.append(
            Error(
                "REVENUECAT_WEBHOOK_AUTH is empty: the webhook refuses every delivery (503 webhook_not_configured), "
                "so purchases, renewals and expirations never reach the server.",
                hint="Set it to the exact Authorization header value configured on RevenueCat's webhook.",
                id="billing.E004",
            )
        )
    if not settings.REVENUECAT_API_KEY:
        errors.append(
            Error(
                "REVENUECAT_API_KEY is empty: webhook events are stored but stay pending, and POST /billing/refresh "
                "answers 503, so no plan changes.",
                hint="Set it to a secret RevenueCat REST API v1 key (sk_...).",
                id="billing.E005",
            )
        )
    return errors


@readiness_extra
def revenuecat_readiness() -> dict:
    # Without RevenueCat the webhook answers 503 and plans never change; this says which way a deploy is.
    configured = bool(settings.REVENUECAT_WEBHOOK_AUTH and settings.REVENUECAT_API_KEY)
    return {"revenuecat": "configured" if configured else "not_configured"}
