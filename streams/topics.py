"""The topics the worker reads (raw bytes, decoded by `streams.decoding`) and writes."""

from __future__ import annotations

import faust

from commands.adapters.relay import RelayConfig
from projections.base import Projection
from streams.app import app, settings

PREFIX = settings.worker_topic_prefix


def _raw(*names: str) -> faust.TopicT:
    # allow_empty: a message without a value is not skipped but dead-lettered like any poison.
    return app.topic(*names, key_serializer="raw", value_serializer="raw", allow_empty=True)


def projection_topic(projection: Projection) -> faust.TopicT:
    """The domain topics one projection reads: one stream over all of them."""
    return _raw(*projection.topics(PREFIX))


dead_letter_topic = _raw(f"{PREFIX}.dlq")


def domain_topic_names() -> list[str]:
    """As the relay names them (`<prefix>.<aggregate type>`)."""
    return RelayConfig(topic_prefix=PREFIX).domain_topics()


def declared_topic_names() -> list[str]:
    """The topics the worker needs to exist before it subscribes."""
    return [*domain_topic_names(), dead_letter_topic.get_topic_name()]
