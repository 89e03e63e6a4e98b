"""The staff group: what an account a Google sign-in makes staff may do in the admin (settings.STAFF_GOOGLE_GROUP)."""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

# Content curation: games, guides (publish, re-embed, upload), the glossary and entity catalogue, the
# question logs behind the dashboard and content gaps, and the feedback queue. No deleting, no billing,
# no users: a superuser grants those per person (Accounts -> Users).
STAFF_GROUP_PERMISSIONS = {
    "knowledge.game": ("view", "add", "change"),
    "knowledge.document": ("view", "add", "change"),
    "knowledge.uploadbatch": ("view", "add"),
    "knowledge.glossaryterm": ("view", "add", "change"),
    "knowledge.entity": ("view", "add", "change"),
    "coach.questionlog": ("view",),
    "coach.feedback": ("view", "change"),
}


def staff_group_permissions() -> list[Permission]:
    """STAFF_GROUP_PERMISSIONS as rows (they exist once migrate has run)."""
    wanted = Q(pk__in=[])
    for label, actions in STAFF_GROUP_PERMISSIONS.items():
        app_label, model = label.split(".")
        codenames = [f"{action}_{model}" for action in actions]
        wanted |= Q(content_type__app_label=app_label, content_type__model=model, codename__in=codenames)
    permissions = list(Permission.objects.filter(wanted).select_related("content_type"))
    expected = sum(len(actions) for actions in STAFF_GROUP_PERMISSIONS.values())
    if len(permissions) != expected:
        raise LookupError(f"{expected - len(permissions)} staff group permission(s) missing: run migrate first")
    return permissions


@transaction.atomic
def staff_group_ensure(*, name: str | None = None, reset: bool = False) -> tuple[Group | None, bool]:
    """The staff group (settings.STAFF_GOOGLE_GROUP unless named), made with STAFF_GROUP_PERMISSIONS when
    missing; an existing one keeps the permissions a superuser gave it unless reset. (None, False) when
    the name is empty. Returns the group and whether its permissions were set."""
    name = settings.STAFF_GOOGLE_GROUP if name is None else name
    if not name:
        return None, False
    group, created = Group.objects.select_for_update().get_or_create(name=name)
    if created or reset:
        group.permissions.set(staff_group_permissions())
    return group, created or reset
