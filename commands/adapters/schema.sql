-- The event store: the source of truth. One row per event, in one global order.
CREATE SCHEMA IF NOT EXISTS event_store;

CREATE TABLE IF NOT EXISTS event_store.events (
    -- Gap-free and in commit order: appends hold one advisory lock from position assignment
    -- to commit, so a reader following `position > last` never skips a late commit.
    position        bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    aggregate_type  text        NOT NULL,
    aggregate_id    uuid        NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1,
    payload         jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    actor           text,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    -- Optimistic concurrency's last line of defence: one event per aggregate version.
    UNIQUE (aggregate_id, version)
);

CREATE INDEX IF NOT EXISTS events_correlation ON event_store.events (correlation_id);

-- The event as the relay publishes it (Confluent-framed Avro), encoded at append time so the
-- relay only reads and produces. NULL when the appender had no registry or the event does
-- not fit its contract: the relay then encodes it, or dead-letters it, itself.
-- (Checked first: ALTER TABLE takes an exclusive lock even when the column exists, and every
-- appender runs this file at start-up.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'event_store'
                   AND table_name = 'events' AND column_name = 'encoded') THEN
        ALTER TABLE event_store.events ADD COLUMN encoded bytea;
    END IF;
END $$;

-- The W3C traceparent of the request that appended the event (NULL without tracing): the
-- relay and the consumers continue that trace (smartcourse/observability/tracing.py).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'event_store'
                   AND table_name = 'events' AND column_name = 'trace_parent') THEN
        ALTER TABLE event_store.events ADD COLUMN trace_parent text;
    END IF;
END $$;

-- Where each follower of the global order (the Kafka relay, ...) has got to.
CREATE TABLE IF NOT EXISTS event_store.checkpoints (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The last event a relay has delivered to each Kafka partition, saved with its checkpoint:
-- a consumer that has applied a partition's head holds all of it up to the checkpoint
-- (read-your-writes needs no watermark marker then; projections/positions.py).
CREATE TABLE IF NOT EXISTS event_store.partition_heads (
    relay       text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (relay, topic, partition)
);
