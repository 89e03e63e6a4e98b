from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project itself: what has to happen once at startup, before any request."""

    name = "config"
    verbose_name = "Configuration"

    def ready(self):
        from .console import third_party_admin_trim
        from .i18n import model_labels_translate
        from .middleware import django_middleware_on_loop

        django_middleware_on_loop()
        model_labels_translate()
        third_party_admin_trim()
