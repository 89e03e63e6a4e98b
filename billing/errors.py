"""Billing's errors: the ones clients see (quota, webhook) and the REST API being unreachable."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class QuotaExceeded(ApplicationError):
    status = 429
    code = "quota_exceeded"
    message = _("This plan's questions are used up for this period; they come back at resets_at.")


class WebhookUnauthorized(ApplicationError):
    status = 401
    code = "webhook_unauthorized"
    message = _("The Authorization header does not match the configured webhook secret.")


class WebhookNotConfigured(ApplicationError):
    status = 503
    code = "webhook_not_configured"
    message = _("The RevenueCat webhook is not configured on this server.")


class InvalidWebhookPayload(ApplicationError):
    status = 400
    code = "invalid_payload"
    message = _("The body is not a RevenueCat webhook event (JSON with event.id and event.type).")


class RevenueCatUnavailable(Exception):
    """RevenueCat's REST API could not be read (down, 5xx, timeout, bad key); the caller retries later."""
