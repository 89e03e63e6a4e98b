"""The names the entity index reads, in the admin: entities (the shipped catalogue and staff's edits) and
glossary terms; every change staff make tells the index."""

from django import forms
from django.contrib import admin
from django.contrib.postgres.forms import SimpleArrayField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Entity, GlossaryTerm
from .services.catalogue import entities_changed, entity_staff_save


class EntityIndexChangesMixin:
    """For admins of rows the entity index reads (entities, glossary terms): every way staff change
    them (the form, the list's editable column, deleting, actions) says so to the index."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        entities_changed(game=obj.game.slug)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        entities_changed(game=obj.game.slug)

    def delete_queryset(self, request, queryset):
        games = set(queryset.values_list("game__slug", flat=True))
        super().delete_queryset(request, queryset)
        for game in games:
            entities_changed(game=game)

    def response_action(self, request, queryset):
        games = set(queryset.values_list("game__slug", flat=True))
        response = super().response_action(request, queryset)
        for game in games:
            entities_changed(game=game)
        return response


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(EntityIndexChangesMixin, admin.ModelAdmin):
    list_display = ("term", "game", "source", "is_active", "occurrences", "updated_at")
    list_filter = ("game", "source", "is_active")
    list_editable = ("is_active",)
    search_fields = ("term",)
    readonly_fields = ("source", "occurrences", "created_at", "updated_at")
    actions = ["activate", "deactivate"]

    @admin.action(description=_("Use for the cache guard"))
    def activate(self, request, queryset):
        count = queryset.update(is_active=True)
        self.message_user(request, ngettext("%(count)d term activated.", "%(count)d terms activated.", count) % {
            "count": count
        })  # fmt: skip

    @admin.action(description=_("Stop using (re-seeding will not bring them back)"))
    def deactivate(self, request, queryset):
        count = queryset.update(is_active=False)
        self.message_user(request, ngettext("%(count)d term deactivated.", "%(count)d terms deactivated.", count) % {
            "count": count
        })  # fmt: skip


class AliasesField(SimpleArrayField):
    """One alias a line (an alias may hold a comma: "Malenia, Blade of Miquella"); blank lines dropped."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 5, "cols": 60}))
        super().__init__(forms.CharField(max_length=200), delimiter="\n", **kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = "\n".join(line.strip() for line in value.splitlines() if line.strip())
        return super().to_python(value)


class EntityForm(forms.ModelForm):
    aliases = AliasesField(required=False, help_text=_("Other spellings and short forms, one a line."))

    class Meta:
        model = Entity
        fields = ("game", "key", "kind", "name_en", "name_ko", "aliases", "is_active")


@admin.register(Entity)
class EntityAdmin(EntityIndexChangesMixin, admin.ModelAdmin):
    """The names the coach recognises in questions and guides. A shipped row staff edit becomes theirs:
    loading the catalogue again leaves it as they left it. Switch a wrong one off rather than delete it."""

    form = EntityForm
    list_display = ("key", "name_ko", "name_en", "alias_list", "kind", "game", "source", "is_active", "updated_at")
    list_filter = ("game", "kind", "source", "is_active")
    list_editable = ("is_active",)
    search_fields = ("key", "name_en", "name_ko", "aliases")
    readonly_fields = ("source", "created_at", "updated_at")
    actions = ["switch_on", "switch_off"]

    @admin.display(description=_("aliases"))
    def alias_list(self, entity):
        return ", ".join(entity.aliases)

    def save_model(self, request, obj, form, change):
        entity_staff_save(entity=obj)

    @admin.action(description=_("Recognise in questions"))
    def switch_on(self, request, queryset):
        count = queryset.update(is_active=True, source=Entity.Source.STAFF, updated_at=timezone.now())
        self.message_user(request, ngettext("%(count)d entity switched on.", "%(count)d entities switched on.", count)
                          % {"count": count})  # fmt: skip

    @admin.action(description=_("Stop recognising (loading the catalogue will not bring them back)"))
    def switch_off(self, request, queryset):
        count = queryset.update(is_active=False, source=Entity.Source.STAFF, updated_at=timezone.now())
        self.message_user(request, ngettext("%(count)d entity switched off.", "%(count)d entities switched off.", count)
                          % {"count": count})  # fmt: skip
