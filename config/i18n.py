"""The console in the staff member's language: our models' names, field names and choice labels from the catalogue.

Django derives most of them from attribute names ("created at", "question logs"), as plain strings
it never translates. Here, at startup, each plain one becomes a lazy lookup in locale/<lang>, made
when a page shows it. A `verbose_name=_()` on each of the ~200 fields would say the same, at the
cost of an AlterField migration per field in apps whose migrations others are writing: migrations
read a field's `_verbose_name` (what the code passed), which stays as it was, and compare choice
labels with translations off, where a lazy label equals its English.

makemessages cannot see these strings, so MODEL_LABELS lists them for it (gettext_noop);
tests/test_i18n.py fails when a model gains a label that is missing there or has no Korean.
"""

from django.apps import apps
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, gettext_noop

APPS = ("accounts", "billing", "coach", "knowledge")
_translated: set[str] = set()


def model_labels() -> set[str]:
    """Every plain-string model name, field name and choice label of our apps, as the code spells it."""
    return _translated | {label for _, _, label in _plain_labels()}


def model_labels_translate() -> None:
    """Make each plain label a lazy translation (idempotent: a translated one is no longer plain)."""
    for owner, attribute, label in list(_plain_labels()):
        _translated.add(label)
        if attribute == "choices":
            owner.choices = [
                (value, gettext_lazy(text) if isinstance(text, str) else text) for value, text in owner.choices
            ]
        else:
            setattr(owner, attribute, gettext_lazy(label))


def _plain_labels():
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            opts = model._meta
            if isinstance(opts.verbose_name, str):
                yield opts, "verbose_name", opts.verbose_name
                if "verbose_name_plural" not in opts.original_attrs:
                    # Django's default plural is a lazy "{}s" of the name: a Promise, but not a translation.
                    yield opts, "verbose_name_plural", f"{opts.verbose_name}s"
            if isinstance(opts.verbose_name_plural, str):
                yield opts, "verbose_name_plural", opts.verbose_name_plural
            for field in [*opts.local_fields, *opts.local_many_to_many]:
                if isinstance(field.verbose_name, str):
                    yield field, "verbose_name", field.verbose_name
                choices = field.choices or []
                flat = all(not isinstance(text, list | tuple) for _, text in choices)
                for _, text in choices if flat else []:
                    if isinstance(text, str) and not isinstance(text, Promise):
                        yield field, "choices", text


# The labels above as the code spells them, for makemessages (kept in step by tests/test_i18n.py).
MODEL_LABELS = (
    gettext_noop("Ability"),
    gettext_noop("action"),
    gettext_noop("Added by staff"),
    gettext_noop("Agent"),
    gettext_noop("aliases"),
    gettext_noop("answer"),
    gettext_noop("answer ids"),
    gettext_noop("app user id"),
    gettext_noop("attempts"),
    gettext_noop("batch"),
    gettext_noop("billing issue detected at"),
    gettext_noop("Boss"),
    gettext_noop("cache"),
    gettext_noop("cached tokens"),
    gettext_noop("call record"),
    gettext_noop("call records"),
    gettext_noop("categories"),
    gettext_noop("category"),
    gettext_noop("Champion"),
    gettext_noop("chunk"),
    gettext_noop("chunks"),
    gettext_noop("comment"),
    gettext_noop("completion tokens"),
    gettext_noop("computed at"),
    gettext_noop("content"),
    gettext_noop("content format"),
    gettext_noop("content hash"),
    gettext_noop("conversation"),
    gettext_noop("conversations"),
    gettext_noop("cost usd"),
    gettext_noop("created at"),
    gettext_noop("created by"),
    gettext_noop("daily stat"),
    gettext_noop("daily stat rollup"),
    gettext_noop("daily stat rollups"),
    gettext_noop("daily stats"),
    gettext_noop("data"),
    gettext_noop("day"),
    gettext_noop("deleted at"),
    gettext_noop("dismissed"),
    gettext_noop("display name"),
    gettext_noop("document"),
    gettext_noop("document ids"),
    gettext_noop("documents"),
    gettext_noop("down"),
    gettext_noop("Draft"),
    gettext_noop("Edited by staff"),
    gettext_noop("embedded at"),
    gettext_noop("embedding"),
    gettext_noop("embedding model"),
    gettext_noop("end time"),
    gettext_noop("ended at"),
    gettext_noop("ended by"),
    gettext_noop("English"),
    gettext_noop("entities"),
    gettext_noop("entitlement id"),
    gettext_noop("entity"),
    gettext_noop("environment"),
    gettext_noop("error"),
    gettext_noop("error code"),
    gettext_noop("event id"),
    gettext_noop("event timestamp ms"),
    gettext_noop("evicted from the semantic cache"),
    gettext_noop("exact"),
    gettext_noop("expires at"),
    gettext_noop("Failed"),
    gettext_noop("failed"),
    gettext_noop("FAQ"),
    gettext_noop("favourite games"),
    gettext_noop("feedback"),
    gettext_noop("feedback review"),
    gettext_noop("feedback reviews"),
    gettext_noop("feedbacks"),
    gettext_noop("filters"),
    gettext_noop("final"),
    gettext_noop("Found by ingestion"),
    gettext_noop("game"),
    gettext_noop("games"),
    gettext_noop("glossary term"),
    gettext_noop("glossary terms"),
    gettext_noop("grounded"),
    gettext_noop("Guide"),
    gettext_noop("ID"),
    gettext_noop("id"),
    gettext_noop("ignored"),
    gettext_noop("index done"),
    gettext_noop("index error"),
    gettext_noop("index started at"),
    gettext_noop("index status"),
    gettext_noop("index total"),
    gettext_noop("indexed at"),
    gettext_noop("indexed hash"),
    gettext_noop("Indexing"),
    gettext_noop("is active"),
    gettext_noop("is sandbox"),
    gettext_noop("Item"),
    gettext_noop("key"),
    gettext_noop("kind"),
    gettext_noop("language"),
    gettext_noop("last event ms"),
    gettext_noop("latency histogram"),
    gettext_noop("latency ms"),
    gettext_noop("latency ms sum"),
    gettext_noop("Location"),
    gettext_noop("malformed"),
    gettext_noop("manifest"),
    gettext_noop("manifest entry"),
    gettext_noop("manifest name"),
    gettext_noop("Map"),
    gettext_noop("Mode"),
    gettext_noop("model"),
    gettext_noop("model name"),
    gettext_noop("month"),
    gettext_noop("month start"),
    gettext_noop("name en"),
    gettext_noop("name ko"),
    gettext_noop("needs summary"),
    gettext_noop("next attempt at"),
    gettext_noop("none"),
    gettext_noop("note"),
    gettext_noop("occurrences"),
    gettext_noop("Patch note"),
    gettext_noop("payload"),
    gettext_noop("Pending"),
    gettext_noop("pending"),
    gettext_noop("period"),
    gettext_noop("period start"),
    gettext_noop("Plain text / Markdown"),
    gettext_noop("plan"),
    gettext_noop("plan override"),
    gettext_noop("plan overrides"),
    gettext_noop("plans"),
    gettext_noop("position"),
    gettext_noop("processed"),
    gettext_noop("processed at"),
    gettext_noop("product id"),
    gettext_noop("prompt tokens"),
    gettext_noop("public id"),
    gettext_noop("Published"),
    gettext_noop("question"),
    gettext_noop("question log"),
    gettext_noop("question logs"),
    gettext_noop("questions"),
    gettext_noop("quota rejection day"),
    gettext_noop("quota rejection days"),
    gettext_noop("Rank"),
    gettext_noop("rating"),
    gettext_noop("raw body"),
    gettext_noop("Ready"),
    gettext_noop("reasoning tokens"),
    gettext_noop("received at"),
    gettext_noop("rejections"),
    gettext_noop("released at"),
    gettext_noop("reviewed at"),
    gettext_noop("reviewed by"),
    gettext_noop("Role"),
    gettext_noop("saved usd"),
    gettext_noop("searchable"),
    gettext_noop("Seeded from documents"),
    gettext_noop("semantic"),
    gettext_noop("semantic cache entry"),
    gettext_noop("semantic cache entrys"),
    gettext_noop("semantic entry"),
    gettext_noop("Shipped catalogue"),
    gettext_noop("slug"),
    gettext_noop("snapshot"),
    gettext_noop("snapshot at ms"),
    gettext_noop("source"),
    gettext_noop("source key"),
    gettext_noop("source kind"),
    gettext_noop("source url"),
    gettext_noop("sources"),
    gettext_noop("stage ms"),
    gettext_noop("start time"),
    gettext_noop("status"),
    gettext_noop("store"),
    gettext_noop("SubRip subtitles (.srt)"),
    gettext_noop("subscriber alias"),
    gettext_noop("subscriber aliases"),
    gettext_noop("subscription"),
    gettext_noop("subscriptions"),
    gettext_noop("summarized"),
    gettext_noop("tags"),
    gettext_noop("Term"),
    gettext_noop("term"),
    gettext_noop("text"),
    gettext_noop("title"),
    gettext_noop("token count"),
    gettext_noop("Trait"),
    gettext_noop("type"),
    gettext_noop("Unit"),
    gettext_noop("up"),
    gettext_noop("updated at"),
    gettext_noop("updated by"),
    gettext_noop("usage counter"),
    gettext_noop("usage counters"),
    gettext_noop("used"),
    gettext_noop("user"),
    gettext_noop("Video subtitles"),
    gettext_noop("Weapon"),
    gettext_noop("webhook event"),
    gettext_noop("webhook events"),
    gettext_noop("WebVTT subtitles (.vtt)"),
    gettext_noop("week"),
    gettext_noop("week start"),
    gettext_noop("will renew"),
    gettext_noop("한국어"),
)
