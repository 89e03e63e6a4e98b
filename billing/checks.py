"""System checks: the plan table and the RevenueCat plan mappings are valid; /readyz says if RevenueCat is set up."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from config.health import readiness_extra
from config.plans import FREE, plans_all


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


@readiness_extra
def revenuecat_readiness() -> dict:
    # RevenueCat is optional (the webhook answers 503 without it); this says which way a deploy is.
    configured = bool(settings.REVENUECAT_WEBHOOK_AUTH and settings.REVENUECAT_API_KEY)
    return {"revenuecat": "configured" if configured else "not_configured"}
