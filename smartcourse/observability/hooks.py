"""Metrics other rooms record, declared once so that their names match the alert rules in
infra/prometheus/rules/ (notifications: `smartcourse_notifications_total`; assistant:
latency and refusals). Import and use them; do not declare the same names again."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter("smartcourse_notifications_total",
                        "Notifications attempted, by channel and outcome (sent, failed, skipped)",
                        ["channel", "outcome"])
ASSISTANT_SECONDS = Histogram("smartcourse_assistant_seconds",
                              "From a question to its answer, by provider and outcome",
                              ["provider", "outcome"],
                              buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60))
ASSISTANT_REFUSALS = Counter("smartcourse_assistant_refusals_total",
                             "Questions the assistant refused, by reason (guardrail, no grounding)",
                             ["reason"])
