"""Billing data: each user's subscription as RevenueCat reports it, webhook events, and quota usage."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing.plans import FREE, plans_all


class Subscription(models.Model):
    """A user's plan, derived from RevenueCat's REST API (never from one event alone)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    plan = models.CharField(max_length=40, default=FREE)
    store = models.CharField(max_length=30, blank=True)  # app_store, play_store, promotional ...
    product_id = models.CharField(max_length=200, blank=True)
    entitlement_id = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null with a plan: lifetime access
    will_renew = models.BooleanField(default=False)
    is_sandbox = models.BooleanField(default=False)
    billing_issue_detected_at = models.DateTimeField(null=True, blank=True)
    # The subscriber body last read from RevenueCat, and RevenueCat's clock when it was read:
    # a read that is older than the stored one never overwrites it.
    snapshot = models.JSONField(default=dict, blank=True)
    snapshot_at_ms = models.BigIntegerField(default=0)
    # High-water mark: the newest event_timestamp_ms a later REST read already reflects.
    last_event_ms = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["plan", "expires_at"], name="billing_sub_plan_expiry")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.plan}"


class SubscriberAlias(models.Model):
    """A RevenueCat app user id other than our public_id ($RCAnonymousID:..., an old alias) for one user."""

    app_user_id = models.CharField(max_length=255, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="revenuecat_aliases")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "subscriber aliases"

    def __str__(self) -> str:
        return self.app_user_id


class WebhookEvent(models.Model):
    """One delivery from RevenueCat as received, kept whatever happened to it."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"  # stored, not yet reflected (or RevenueCat's API was unreachable)
        PROCESSED = "processed", "processed"
        IGNORED = "ignored", "ignored"  # sandbox, unknown type, or no user of ours
        FAILED = "failed", "failed"  # an unexpected error; see error, reprocess from the admin
        MALFORMED = "malformed", "malformed"  # answered 400; kept for inspection

    event_id = models.CharField(max_length=255, blank=True)  # empty only for a malformed body
    type = models.CharField(max_length=60, blank=True)
    app_user_id = models.CharField(max_length=255, blank=True)
    environment = models.CharField(max_length=20, blank=True)
    event_timestamp_ms = models.BigIntegerField(null=True, blank=True)
    raw_body = models.TextField()
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    note = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=~Q(event_id=""), name="billing_webhook_event_id_unique"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="billing_webhook_due")]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type or '?'} {self.event_id or '(malformed)'}"


class UsageCounter(models.Model):
    """Calls a user spent in one calendar week or month; a new period is simply a new row."""

    class Period(models.TextChoices):
        WEEK = "week", "week"
        MONTH = "month", "month"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_counters")
    period = models.CharField(max_length=5, choices=Period.choices)
    period_start = models.DateField()
    used = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period", "period_start"], name="billing_usage_user_period"),
        ]
        indexes = [models.Index(fields=["period_start"], name="billing_usage_start")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} {self.period_start}: {self.used}"


class CallRecord(models.Model):
    """One call reserved against the quota; released_at is set when it was given back (once)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="call_records")
    plan = models.CharField(max_length=40)
    week_start = models.DateField()
    month_start = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="billing_call_created")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"


class PlanCatalog(models.Model):
    """No table: gives the read-only plans page (billing/plans.py) its place in the admin."""

    class Meta:
        managed = False
        verbose_name = "plan"
        default_permissions = ("view",)

    def __str__(self) -> str:
        return "plans"


def plan_name_validate(value: str) -> None:
    """A plan staff may grant: one configured now (billing/plans.py + PLANS_EXTRA_JSON)."""
    if value not in plans_all():
        raise ValidationError("%(value)s is not a configured plan.", code="unknown_plan", params={"value": value})


class PlanOverride(models.Model):
    """A plan staff gave a user by hand, with the reason; it wins over the store subscription while active.

    An audit record: rows are only ever added, and ended once (ended_at/ended_by). Active means not
    ended and not expired; when several are active the newest wins (billing.selectors.user_plan).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan_overrides")
    # Validated against the configuration, not as choices: plans come and go with PLANS_EXTRA_JSON.
    plan = models.CharField(max_length=40, validators=[plan_name_validate])
    note = models.TextField(help_text="Why: the ticket, the promotion, the incident. Required; kept for audit.")
    # PROTECT: an audit record never loses its author (staff accounts are deactivated, not deleted).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until staff end it.")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            # Whitespace alone is not a reason.
            models.CheckConstraint(
                condition=Q(note__regex=r"\S"),
                name="billing_planoverride_note_required",
                violation_error_message="A note saying why is required.",
            ),
            models.CheckConstraint(condition=~Q(plan=""), name="billing_planoverride_plan_required"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("created_at")),
                name="billing_planoverride_expires_after_created",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, ended_by__isnull=True)
                | Q(ended_at__isnull=False, ended_by__isnull=False, ended_at__gte=F("created_at")),
                name="billing_planoverride_ended_with_who_and_when",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="billing_override_user_newest")]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.plan} override #{self.pk}"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.ended_at is None and (self.expires_at is None or self.expires_at > at)
