-- Per-user data keys (crypto-shredding, privacy/sealing.py): never copied into an event,
-- Kafka or ClickHouse. Deleting a row erases that user's personal fields everywhere.
CREATE SCHEMA IF NOT EXISTS privacy;

CREATE TABLE IF NOT EXISTS privacy.data_keys (
    subject_id  uuid        PRIMARY KEY,
    data_key    bytea       NOT NULL CHECK (length(data_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Tombstones: an erased user never gets a key again.
CREATE TABLE IF NOT EXISTS privacy.erasures (
    subject_id  uuid        PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
