"""The worker's Prometheus metrics (served on loopback by `streams.app`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

APPLIED = Counter("smartcourse_worker_events_applied_total",
                  "Events applied to a projection's rows", ["projection"])
SKIPPED = Counter("smartcourse_worker_events_skipped_total",
                  "Events not applied: already applied (duplicate) or not read by the"
                  " projection (ignored)", ["projection", "why"])
DEAD_LETTERS = Counter("smartcourse_worker_dead_letters_total",
                       "Messages recorded as dead letters", ["projection", "reason"])
BATCH_SECONDS = Histogram("smartcourse_worker_batch_seconds",
                          "From decoding a batch to its transaction's commit", ["projection"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
BATCH_SIZE = Histogram("smartcourse_worker_batch_messages", "Messages per batch",
                       ["projection"], buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000))
RETRIES = Counter("smartcourse_worker_batch_retries_total",
                  "Batches tried again after a failure that was not the events' fault",
                  ["projection"])
POSITION = Gauge("smartcourse_worker_position",
                 "Highest global position (event or watermark) in the last batch",
                 ["projection"])
