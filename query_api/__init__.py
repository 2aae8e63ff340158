"""The query API: FastAPI over the PostgreSQL read models (projections only)."""
