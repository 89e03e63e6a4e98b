"""Plan overrides: staff give a user a plan by hand, with a required note, and may end it early.

The rows are an audit trail: a grant adds a row, an end fills ended_at/ended_by once, nothing else
changes or disappears. The quota reads the plan at each reservation, so both take effect at once.
"""

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.models import PlanOverride

logger = logging.getLogger(__name__)


def _staff_check(staff: User | None, action: str) -> None:
    if staff is None or not staff.is_active or not staff.is_staff:
        raise PermissionDenied(f"Only active staff may {action} a plan override.")


def plan_override_grant(
    *, user: User, plan: str, note: str, created_by: User, expires_at: datetime | None = None
) -> PlanOverride:
    """Give `user` the plan `plan` from now until `expires_at` (or until ended), for the reason in `note`.

    Raises ValidationError (unknown plan, blank note, expiry not in the future) and PermissionDenied
    (created_by is not active staff). The newest active override wins over older ones and the store.
    """
    _staff_check(created_by, "grant")
    override = PlanOverride(user=user, plan=plan, note=(note or "").strip(), created_by=created_by,
                            created_at=timezone.now(), expires_at=expires_at)  # fmt: skip
    if override.expires_at is not None and override.expires_at <= override.created_at:
        raise ValidationError({"expires_at": "The override must expire in the future."})
    override.full_clean()
    override.save()
    logger.info("plan override %s: %s for user %s by staff %s until %s", override.pk, plan, user.pk,
                created_by.pk, expires_at.isoformat() if expires_at else "ended")  # fmt: skip
    return override


def plan_override_end(*, override: PlanOverride, ended_by: User) -> PlanOverride:
    """End an active override now; the user is back on their subscription (or an older active override).

    Ending one that staff already ended changes nothing (who ended it stays recorded). One that
    already expired cannot be ended: ValidationError.
    """
    _staff_check(ended_by, "end")
    now = timezone.now()
    with transaction.atomic():
        current = PlanOverride.objects.select_for_update().get(pk=override.pk)
        if current.ended_at is not None:
            return current
        if current.expires_at is not None and current.expires_at <= now:
            raise ValidationError("This override already expired; there is nothing to end.")
        current.ended_at = now
        current.ended_by = ended_by
        current.save(update_fields=["ended_at", "ended_by"])
    logger.info("plan override %s for user %s ended by staff %s", current.pk, current.user_id, ended_by.pk)
    return current
