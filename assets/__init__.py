"""Lesson assets in object storage: the bytes in an S3-compatible store, their metadata
(type, size, SHA-256, key) as events on the course aggregate, their text extracted for the
publishing workflow's chunks (docs/adr/0040)."""
