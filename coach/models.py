"""The coach's records: conversations, one QuestionLog per ask (answer, usage, cost, timings), feedback."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    game = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.game} conversation {self.id}"


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
    # A semantic hit: the cache entry the answer came from, so a down-vote on this answer evicts it.
    # db_default: rows written without it (code from before the column, bulk inserts) get "" too.
    semantic_entry = models.CharField(max_length=64, blank=True, default="", db_default="")
    latency_ms = models.PositiveIntegerField(default=0)
    stage_ms = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.TextField(blank=True)
    # False: the guides did not cover the question (knowledge.retrieval's gate); the player was told so,
    # no LLM was called and the call was given back. Staff read these as content gaps.
    grounded = models.BooleanField(default=True, db_default=True)
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

    def __str__(self) -> str:
        return f"{self.rating} on {self.answer_id}"


class DailyStat(models.Model):
    """One service-time-zone day of QuestionLog rows, summed per game, plan, model, cache kind and error.

    coach.tasks.daily_stats_refresh fills it for days that are over, so the dashboard and
    /api/admin/stats read a few hundred rows instead of scanning millions of logs.
    """

    day = models.DateField()
    game = models.CharField(max_length=50)
    plan = models.CharField(max_length=30, blank=True)
    model = models.CharField(max_length=60, blank=True)
    cache = models.CharField(max_length=10, choices=QuestionLog.Cache.choices)
    error_code = models.CharField(max_length=60, blank=True)
    questions = models.PositiveIntegerField()
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    saved_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    # Asks per coach.stats.LATENCY_BUCKETS_MS bucket: percentiles merge across days and groups.
    latency_histogram = ArrayField(models.PositiveIntegerField(), default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "game", "plan", "model", "cache", "error_code"], name="coach_dailystat_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.game} {self.model or '-'} {self.cache}: {self.questions}"


class DailyStatRollup(models.Model):
    """When a day's DailyStat rows were computed; `final` once computed after the day (and a grace) ended."""

    day = models.DateField(primary_key=True)
    computed_at = models.DateTimeField()
    final = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.day} ({'final' if self.final else 'partial'})"


class QuotaRejectionDay(models.Model):
    """Asks refused with 429 quota_exceeded, counted per service-time-zone day and plan."""

    day = models.DateField()
    plan = models.CharField(max_length=40)
    rejections = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "plan"], name="coach_quota_rejection_day_plan")]

    def __str__(self) -> str:
        return f"{self.day} {self.plan}: {self.rejections}"


class FeedbackReview(models.Model):
    """What staff did about a down-voted answer; the admin's queue shows down-votes not yet reviewed."""

    class Action(models.TextChoices):
        EVICTED = "evicted", "evicted from the semantic cache"
        DISMISSED = "dismissed", "dismissed"

    feedback = models.OneToOneField(Feedback, on_delete=models.CASCADE, related_name="review")
    action = models.CharField(max_length=10, choices=Action.choices)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.action} by {self.reviewed_by_id} at {self.reviewed_at:%Y-%m-%d %H:%M}"
