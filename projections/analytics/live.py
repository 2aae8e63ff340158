"""The live path's entry point: one batch of decoded deliveries -> one ClickHouse insert.

For the stream worker: call `handle_batch` with a batch (e.g. Faust's `noack_take(N,
within=T)`, which does the N-rows-or-T-seconds buffering) and ack the messages after it
returns; by then the rows are acknowledged by ClickHouse and the checkpoint written. If it
raises, nothing was checkpointed and the same batch may be handed again.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence

from clickhouse_connect.driver.client import Client

from projections.analytics import schema
from projections.analytics.clients import writer_client
from projections.analytics.consent import ConsentLedger
from projections.analytics.sink import ClickHouseSink, FlushResult
from projections.deliveries import EventDelivery, WatermarkDelivery
from smartcourse.settings import Settings


class AnalyticsFeed:
    """Owns the writer client and sink; connects and bootstraps the schema on first use."""

    def __init__(self, settings: Settings, *, name: str = "analytics",
                 client: Callable[[Settings], Client] = writer_client) -> None:
        self.settings = settings
        self.name = name
        self._new_client = client
        self._sink: ClickHouseSink | None = None

    def sink(self) -> ClickHouseSink:
        if self._sink is None:
            client = self._new_client(self.settings)
            schema.ensure_schema(client, self.settings.analytics_database)
            # The caller does the batching (N rows or T seconds): one insert per batch.
            self._sink = ClickHouseSink(client, self.settings.analytics_database,
                                        name=self.name, max_rows=sys.maxsize,
                                        max_seconds=math.inf,
                                        consents=ConsentLedger(self.settings.pg_dsn))
        return self._sink

    def handle_batch(self, deliveries: Sequence[EventDelivery | WatermarkDelivery]
                     ) -> FlushResult | None:
        """Insert the batch and checkpoint it; returns once ClickHouse acknowledged both."""
        sink = self.sink()
        try:
            sink.write(deliveries)
            return sink.flush()
        except BaseException:
            sink.discard()  # the caller hands the same batch again
            self.close()  # and gets a fresh connection for it
            raise

    def close(self) -> None:
        if self._sink is not None:
            self._sink.client.close()
            if self._sink.consents is not None:
                self._sink.consents.close()
            self._sink = None
