"""Writes on the knowledge base, one module per concern: games, documents, their indexing, the change
notifications that follow a committed edit, the glossary and the entity catalogue."""
