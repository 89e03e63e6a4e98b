"""The HNSW (cosine) index on chunk embeddings, built concurrently so a large table stays writable."""

import pgvector.django.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("knowledge", "0002_documents_and_chunks"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chunk",
            index=pgvector.django.indexes.HnswIndex(
                condition=models.Q(("searchable", True)),
                ef_construction=64,
                fields=["embedding"],
                m=16,
                name="chunk_embedding_hnsw",
                opclasses=["vector_cosine_ops"],
            ),
        ),
    ]
