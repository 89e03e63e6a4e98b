"""Reading sources into documents to ingest: finding and reading the files (.md .txt .html .srt .vtt .jsonl),
their titles, the manifest that describes them, and a library's documents each with its game, metadata and a
stable identity (library.library_read)."""
