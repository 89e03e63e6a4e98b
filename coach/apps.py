from django.apps import AppConfig


class CoachConfig(AppConfig):
    name = "coach"
    verbose_name = "Coach"

    def ready(self):
        from coach.services import cache  # noqa: F401 - registers the semantic-cache /readyz field
