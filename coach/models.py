"""The coach's records: conversations, one QuestionLog per ask (answer, usage, cost, timings), feedback."""

import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    game = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]


class QuestionLog(models.Model):
    class Cache(models.TextChoices):
        NONE = "none", "none"
        EXACT = "exact", "exact"
        SEMANTIC = "semantic", "semantic"

    # Ids go out to the app; a UUID is not guessable, so one user cannot walk another's answers.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="questions")
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.SET_NULL, related_name="questions")
    game = models.CharField(max_length=50)
    category = models.CharField(max_length=50, blank=True)
    tags = models.JSONField(default=list, blank=True)
    plan = models.CharField(max_length=30, blank=True)
    question = models.TextField()
    answer = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=60, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=8, default=0)
    # What the cache saved: the cost of the answer that was reused (0 on a miss).
    saved_usd = models.DecimalField(max_digits=12, decimal_places=8, default=0)
    cache = models.CharField(max_length=10, choices=Cache.choices, default=Cache.NONE)
    latency_ms = models.PositiveIntegerField(default=0)
    stage_ms = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["game", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.question[:60]


class Feedback(models.Model):
    class Rating(models.TextChoices):
        UP = "up", "up"
        DOWN = "down", "down"

    answer = models.OneToOneField(QuestionLog, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["rating", "-created_at"])]
