"""Chunk embeddings are stored at half precision (halfvec), and the HNSW index is over the column itself.

An exact scan of a filtered set reads each row's vector: at 2 bytes a dimension instead of 4 it takes
~40% less time (20,000 rows: ~10 -> ~6 ms, bench/README.md), and the table is about half the size.
The HNSW index was already over half-precision copies, so search results do not move beyond
half-precision rounding (~1e-4 on a cosine distance).

ALTER COLUMN ... TYPE rewrites the table and this migration rebuilds the index, both under the
table's lock: seconds at 100k chunks, ~10 minutes at 1M (the index build; bench/README.md).
"""

import pgvector.django.halfvec
import pgvector.django.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0004_chunk_embedding_halfvec_hnsw"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="chunk",
            name="chunk_embedding_halfvec_hnsw",
        ),
        migrations.AlterField(
            model_name="chunk",
            name="embedding",
            field=pgvector.django.halfvec.HalfVectorField(blank=True, dimensions=384, null=True),
        ),
        migrations.AddIndex(
            model_name="chunk",
            index=pgvector.django.indexes.HnswIndex(
                condition=models.Q(("searchable", True)),
                ef_construction=128,
                fields=["embedding"],
                m=16,
                name="chunk_embedding_hnsw",
                opclasses=["halfvec_cosine_ops"],
            ),
        ),
    ]
