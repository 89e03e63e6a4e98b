"""OpenAI's models for knowledge and coach alike: chat clients, retries and errors, embeddings, token counts."""
