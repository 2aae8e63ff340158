-- Identity beside the event store. Nothing here is ever published: password hashes and
-- refresh-token hashes stay in PostgreSQL; Kafka and ClickHouse never see them.
CREATE SCHEMA IF NOT EXISTS identity;

-- Password hashes (argon2id, PHC strings) by user. Written before the registration command
-- appends `user.registered` (an orphan row, left by a refused registration, is harmless: no
-- account points at it).
CREATE TABLE IF NOT EXISTS identity.credentials (
    user_id        uuid        PRIMARY KEY,
    password_hash  text        NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens, stored as SHA-256 of the token. A family is one login: each use rotates the
-- token within its family; presenting a used token again revokes the whole family.
CREATE TABLE IF NOT EXISTS identity.refresh_tokens (
    token_hash  bytea       PRIMARY KEY,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON identity.refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON identity.refresh_tokens (user_id);

-- The account registry: each user's role and state, folded from the user events by a trigger
-- in the very transaction that appends them. Both APIs read it to learn who a token's user
-- is now (never the token's own claim); it is exactly as fresh as the store, and
-- identity.rebuild_accounts() rebuilds it from the store.
CREATE TABLE IF NOT EXISTS identity.accounts (
    user_id   uuid    PRIMARY KEY,
    role      text    NOT NULL,
    active    boolean NOT NULL,
    version   integer NOT NULL,
    position  bigint  NOT NULL
);

CREATE OR REPLACE FUNCTION identity.apply_account_event(
    p_user uuid, p_version integer, p_type text, p_payload jsonb, p_position bigint
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_type = 'user.registered' THEN
        INSERT INTO identity.accounts AS a (user_id, role, active, version, position)
        VALUES (p_user, p_payload->>'role', true, p_version, p_position)
        ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, active = true,
            version = excluded.version, position = excluded.position
        WHERE a.version < excluded.version;
    ELSE
        UPDATE identity.accounts SET
            role = CASE WHEN p_type = 'user.role_changed' THEN p_payload->>'role' ELSE role END,
            active = CASE p_type WHEN 'user.deactivated' THEN false WHEN 'user.erased' THEN false
                                 WHEN 'user.reactivated' THEN true ELSE active END,
            version = p_version, position = p_position
        WHERE user_id = p_user AND version < p_version;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION identity.fold_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e record;
BEGIN
    FOR e IN SELECT aggregate_id, version, event_type, payload, position FROM appended
             WHERE aggregate_type = 'user' ORDER BY position LOOP
        PERFORM identity.apply_account_event(e.aggregate_id, e.version, e.event_type,
                                             e.payload, e.position);
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION identity.rebuild_accounts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    e record;
    n bigint := 0;
BEGIN
    DELETE FROM identity.accounts;
    FOR e IN SELECT aggregate_id, version, event_type, payload, position
             FROM event_store.events WHERE aggregate_type = 'user' ORDER BY position LOOP
        PERFORM identity.apply_account_event(e.aggregate_id, e.version, e.event_type,
                                             e.payload, e.position);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- Installed once (CREATE TRIGGER locks the events table even when nothing changes); a store
-- that held user events before the registry existed is folded into it at that moment.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'accounts_from_events'
                   AND tgrelid = 'event_store.events'::regclass) THEN
        CREATE TRIGGER accounts_from_events AFTER INSERT ON event_store.events
            REFERENCING NEW TABLE AS appended
            FOR EACH STATEMENT EXECUTE FUNCTION identity.fold_accounts();
        PERFORM identity.rebuild_accounts();
    END IF;
END $$;
