"""The PostgreSQL backend (ENGINE "config.db"): Django's, answering at once while the server is known to be down."""
