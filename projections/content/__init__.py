"""Course content for semantic search: chunking, embeddings (cached), the Weaviate index, the
publishing workflow's state in PostgreSQL (schema `content`), search and rebuild."""
