"""The chunk ANN index becomes HNSW over half-precision copies (ef_construction 128), built concurrently
before the full-precision one is dropped, so search always has an index and the table stays writable."""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import pgvector.django.halfvec
import pgvector.django.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("knowledge", "0003_chunk_embedding_hnsw"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chunk",
            index=pgvector.django.indexes.HnswIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.comparison.Cast(
                        "embedding", pgvector.django.halfvec.HalfVectorField(dimensions=384)
                    ),
                    name="halfvec_cosine_ops",
                ),
                condition=models.Q(("searchable", True)),
                ef_construction=128,
                m=16,
                name="chunk_embedding_halfvec_hnsw",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="chunk",
            name="chunk_embedding_hnsw",
        ),
    ]
