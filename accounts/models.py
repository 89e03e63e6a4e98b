"""The user: our own account, linked to a Google identity through allauth's SocialAccount."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models


class User(AbstractUser):
    class Language(models.TextChoices):
        KOREAN = "ko", "한국어"
        ENGLISH = "en", "English"

    # The stable, unguessable id the app passes to RevenueCat as app_user_id.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=80, blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.KOREAN)
    favourite_games = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            # A deleted account can never sign in again; its row stays only for accounting.
            models.CheckConstraint(
                condition=models.Q(deleted_at__isnull=True) | models.Q(is_active=False),
                name="accounts_user_deleted_is_inactive",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username
