from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoachConfig(AppConfig):
    name = "coach"
    verbose_name = _("Coach")
    # config.beat: created after every migrate when missing; an existing entry is left as staff set it.
    beat_schedule = {
        "coach: roll up finished days into DailyStat": (
            "coach.tasks.daily_stats_refresh",
            {"every": 10, "period": "minutes"},
        ),
    }

    def ready(self):
        from coach.services import cache  # registers the semantic-cache /readyz field
        from config.beat import beat_schedule_created
        from knowledge.services.changes import document_changed_subscribe

        # Answers cached from a document go when it changes (knowledge tells us after the commit).
        document_changed_subscribe(cache.semantic_cache_evict_document)

        post_migrate.connect(beat_schedule_created, sender=self, dispatch_uid="coach_beat_schedule")

    def warm(self):
        """config.asgi, before a worker serves: the tokenizers an ask counts with (tiktoken builds each on
        first use, on the event loop otherwise)."""
        from django.conf import settings

        from ai.tokens import encoding_for
        from billing.plans import plans_all

        for model in {settings.EMBEDDING_MODEL, *(plan.model for plan in plans_all().values())}:
            encoding_for(model)

    async def aclose(self):
        """config.handlers, when the worker shuts down: the HTTP sessions this event loop opened to OpenAI."""
        from ai import embeddings, llm

        await llm.async_clients_close()
        await embeddings.async_clients_close()
