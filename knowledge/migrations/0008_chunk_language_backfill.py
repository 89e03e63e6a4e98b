"""Existing chunks take their document's language (a data migration, apart from 0007's schema change)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0007_chunk_language"),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE knowledge_chunk c SET language = d.language FROM knowledge_document d "
            "WHERE d.id = c.document_id AND c.language <> d.language",
            migrations.RunSQL.noop,
        ),
    ]
