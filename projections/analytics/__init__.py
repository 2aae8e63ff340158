"""ClickHouse analytics: every domain event in a fact table, metric views for analysts.

Public API (docs/analytics.md describes the tables and views):

- `schema.ensure_schema(client, database) -> int` bootstrap (idempotent), the live version.
- `sink.ClickHouseSink(client, database, name=, max_rows=, max_seconds=)`: `write(items)`,
  `flush()`, `flush_if_due()`, `close()`; items are `StoredEvent`, `EventDelivery` or
  `WatermarkDelivery`. The checkpoint moves only after ClickHouse acknowledged the rows.
- `live.AnalyticsFeed(settings).handle_batch(deliveries)`: what the stream worker calls.
- `rebuild.rebuild(settings, database=, chunk_size=, keep_previous=) -> RebuildResult`:
  blue/green rebuild from the event store (`smartcourse analytics rebuild`).
- `trends`: `course_trends`, `enrollment_anomaly`, `enrollment_anomalies` for the query API.
- `clients.writer_client(settings)`, `clients.analyst_client(settings)`.
"""
