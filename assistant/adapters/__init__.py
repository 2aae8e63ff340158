"""The assistant's way out: Weaviate, the read models, Redis, the write side."""
