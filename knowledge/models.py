"""What the coach answers from: games, curated documents, their embedded chunks, and game glossaries."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from pgvector.django import HalfVectorField, HnswIndex

CATEGORY_MAX_LENGTH = 50
TAG_MAX_LENGTH = 50
LANGUAGES = [("ko", "한국어"), ("en", "English")]


class Game(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name_ko = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    # The categories players pick from, in the order staff want them shown; ingestion adds new ones.
    categories = ArrayField(models.CharField(max_length=CATEGORY_MAX_LENGTH), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name_en} ({self.slug})"


class Document(models.Model):
    class SourceKind(models.TextChoices):
        GUIDE = "guide", "Guide"
        PATCH_NOTE = "patch_note", "Patch note"
        VIDEO_SUBTITLES = "video_subtitles", "Video subtitles"
        FAQ = "faq", "FAQ"

    class Format(models.TextChoices):
        TEXT = "text", "Plain text / Markdown"
        SRT = "srt", "SubRip subtitles (.srt)"
        VTT = "vtt", "WebVTT subtitles (.vtt)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class IndexStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        INDEXING = "indexing", "Indexing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="documents")
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH, validators=[RegexValidator(r"^\S(.*\S)?$")])
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    title = models.CharField(max_length=300)
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices, default=SourceKind.GUIDE)
    source_url = models.URLField(max_length=1000, blank=True)
    # Where ingestion found it (a file path, a jsonl id): re-ingesting the same source updates this row.
    source_key = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="ko")
    content_format = models.CharField(max_length=10, choices=Format.choices, default=Format.TEXT)
    content = models.TextField()
    content_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)

    # Indexing: chunks made from content_hash are staged until all are embedded, then replace the
    # live ones (indexed_hash) in one transaction; index_done/index_total is the progress staff see.
    index_status = models.CharField(max_length=10, choices=IndexStatus.choices, default=IndexStatus.PENDING)
    indexed_hash = models.CharField(max_length=64, blank=True, editable=False)
    index_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    index_total = models.PositiveIntegerField(default=0, editable=False)
    index_done = models.PositiveIntegerField(default=0, editable=False)
    index_error = models.TextField(blank=True, editable=False)
    indexed_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["game", "source_key"], condition=~models.Q(source_key=""), name="document_unique_source"
            ),
            models.CheckConstraint(
                condition=models.Q(index_done__lte=models.F("index_total")), name="document_progress"
            ),
        ]
        indexes = [
            models.Index(fields=["game", "category"]),
            models.Index(fields=["status", "-updated_at"]),
            GinIndex(fields=["tags"], name="document_tags_gin"),
        ]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # The document content this chunk was cut from: staged while != document.indexed_hash.
    content_hash = models.CharField(max_length=64)
    position = models.PositiveIntegerField()
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    # The piece was over CHUNK_SUMMARIZE_OVER_TOKENS: needs_summary until summarised, then summarized.
    needs_summary = models.BooleanField(default=False)
    summarized = models.BooleanField(default=False)
    start_time = models.FloatField(null=True, blank=True)  # seconds into the video (subtitles)
    end_time = models.FloatField(null=True, blank=True)
    # Half precision (2 bytes a dimension): an exact scan reads half the bytes a row (15-50% faster; the table is
    # half the size) and the HNSW index is over the column itself.
    embedding = HalfVectorField(dimensions=settings.EMBEDDING_DIM, null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    embedded_at = models.DateTimeField(null=True, blank=True)

    # Copies of the document's filter fields, so one index-served WHERE on this table selects a
    # filtered set (and counts it) without a join; services keep them in step with the document.
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH)
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    # The document's language: retrieval takes the best chunks of each language, so a Korean question
    # still reaches an English guide (knowledge.retrieval).
    language = models.CharField(max_length=2, choices=LANGUAGES, default="ko")
    # Live, embedded and its document published: the only chunks retrieval ever sees.
    searchable = models.BooleanField(default=False)

    class Meta:
        ordering = ["document_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "content_hash", "position"], name="chunk_unique_position"),
            models.CheckConstraint(
                condition=models.Q(searchable=False)
                | (models.Q(embedding__isnull=False) & ~models.Q(embedding_model="")),
                name="chunk_searchable_is_embedded",
            ),
        ]
        indexes = [
            models.Index(
                fields=["game", "embedding_model", "category"],
                condition=models.Q(searchable=True),
                name="chunk_search_filter",
            ),
            GinIndex(fields=["tags"], condition=models.Q(searchable=True), name="chunk_search_tags"),
            # The one ANN index on the column (a second one misleads the planner into a walk a filter empties).
            # ef_construction 128, not 64: at 1M chunks the graph built with 64 stopped at recall 0.95
            # whatever ef_search.
            HnswIndex(
                fields=["embedding"],
                opclasses=["halfvec_cosine_ops"],
                m=16,
                ef_construction=128,
                condition=models.Q(searchable=True),
                name="chunk_embedding_hnsw",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"


class GlossaryTerm(models.Model):
    """An entity name of a game (boss, champion, item) that the semantic cache must not confuse."""

    class Source(models.TextChoices):
        SEEDED = "seeded", "Seeded from documents"
        STAFF = "staff", "Added by staff"

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="glossary")
    term = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    # Staff switch a term off rather than delete it, so re-seeding does not bring it back.
    is_active = models.BooleanField(default=True)
    occurrences = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["game", "term"]
        constraints = [models.UniqueConstraint(fields=["game", "term"], name="glossary_unique_term")]

    def __str__(self) -> str:
        return self.term


class UploadBatch(models.Model):
    """Files staff uploaded together in the admin (or one zip's members), ingested by one Celery task."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Ingesting")
        DONE = "done", _("Done")

    # Defaults for files that neither a manifest entry nor a jsonl line places.
    game = models.ForeignKey(
        Game, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("game")
    )
    category = models.CharField(_("category"), max_length=CATEGORY_MAX_LENGTH, blank=True)
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True, verbose_name=_("tags"))
    document_status = models.CharField(
        _("new documents are"), max_length=10, choices=Document.Status.choices, default=Document.Status.PUBLISHED
    )
    archive_name = models.CharField(_("zip"), max_length=255, blank=True)  # the zip(s) the files came from
    # The zip's manifest as uploaded (knowledge.ingestion.manifest.manifest_load reads it again in the worker).
    manifest_name = models.CharField(max_length=100, blank=True)
    manifest = models.TextField(blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")

    def __str__(self) -> str:
        return f"#{self.pk}" + (f" {self.archive_name}" if self.archive_name else "")


class UploadFile(models.Model):
    """One uploaded file: its bytes, what its manifest entry says, and what ingesting it did."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DONE = "done", _("Ingested")
        FAILED = "failed", _("Failed")

    batch = models.ForeignKey(UploadBatch, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(_("file"), max_length=500)  # the file's name, or its path inside the zip
    data = models.BinaryField(blank=True, editable=False)
    size = models.PositiveIntegerField(_("size"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(_("error"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)  # "1 new", "3 unchanged" ...
    documents = models.ManyToManyField(Document, blank=True, related_name="+", verbose_name=_("documents"))

    class Meta:
        ordering = ["batch", "pk"]
        verbose_name = _("uploaded file")
        verbose_name_plural = _("uploaded files")

    def __str__(self) -> str:
        return self.name


class Entity(models.Model):
    """A named thing of a game (champion, boss, item, map, role, term) in its Korean and English spellings.

    The shipped catalogue (knowledge/catalogue/<game>.json, `manage.py load_catalogue`) writes rows
    of source catalogue; a row staff edit becomes source staff and loading leaves it alone.
    knowledge.selectors.entity_index reads the active ones with the glossary's terms.
    """

    class Kind(models.TextChoices):
        CHAMPION = "champion", "Champion"
        AGENT = "agent", "Agent"
        BOSS = "boss", "Boss"
        UNIT = "unit", "Unit"
        TRAIT = "trait", "Trait"
        ITEM = "item", "Item"
        WEAPON = "weapon", "Weapon"
        ABILITY = "ability", "Ability"
        MODE = "mode", "Mode"
        RANK = "rank", "Rank"
        ROLE = "role", "Role"
        MAP = "map", "Map"
        LOCATION = "location", "Location"
        TERM = "term", "Term"

    class Source(models.TextChoices):
        CATALOGUE = "catalogue", "Shipped catalogue"
        STAFF = "staff", "Edited by staff"
        INGESTION = "ingestion", "Found by ingestion"

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="entities")
    key = models.SlugField(max_length=100, help_text="The entity's id (malenia, lee-sin): what matches report.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name_en = models.CharField(max_length=200, blank=True)
    name_ko = models.CharField(max_length=200, blank=True)
    aliases = ArrayField(
        models.CharField(max_length=200),
        default=list,
        blank=True,
        help_text="Other spellings and short forms, Korean or English.",
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    # Staff switch an entity off rather than delete it, so loading the catalogue does not bring it back.
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["game", "key"]
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(fields=["game", "key"], name="entity_unique_key"),
            models.CheckConstraint(condition=~models.Q(name_en="", name_ko=""), name="entity_has_a_name"),
        ]

    def __str__(self) -> str:
        return self.name_ko or self.name_en

    def names(self) -> list[str]:
        return [name for name in (self.name_en, self.name_ko, *self.aliases) if name]
