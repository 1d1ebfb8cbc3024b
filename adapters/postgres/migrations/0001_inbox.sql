-- hookwise adapters/postgres, schema version 1.
-- Table names are unqualified: apply this file with search_path set to the
-- schema the adapter is configured with (default "hookwise"), e.g.
--   CREATE SCHEMA IF NOT EXISTS hookwise; SET search_path TO hookwise;

-- Dedupe marks (dedupe.Store): one row per "provider:event id" key.
CREATE TABLE dedupe (
    key        bytea       PRIMARY KEY,
    token      text        NOT NULL,          -- the claim token holding the key
    state      smallint    NOT NULL CHECK (state IN (1, 2, 3)), -- 1 admitted, 2 confirmed, 3 done
    expires_at timestamptz NOT NULL           -- lease or retention end; a lapsed row counts as absent
);
CREATE INDEX dedupe_expires ON dedupe (expires_at);

-- Events: the queue (state queued or running) and the history (done, dead).
CREATE TABLE events (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint    text        NOT NULL,          -- the receiver endpoint whose workers run it
    provider    text        NOT NULL,
    event_id    text        NOT NULL,
    type        text        NOT NULL,
    version     text        NOT NULL DEFAULT '',
    received_at timestamptz,                   -- Event.ReceivedAt to the microsecond
    received_ns integer     NOT NULL DEFAULT 0, -- and its nanoseconds below the microsecond
    header      bytea,                         -- Event.Header, encoded (see codec.go)
    body        bytea       NOT NULL,
    payload     bytea,
    meta        bytea,                         -- Event.Meta, encoded (see codec.go)
    attempt     integer     NOT NULL DEFAULT 1,
    claim_token text        NOT NULL UNIQUE,   -- makes Enqueue idempotent
    state       text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at      timestamptz NOT NULL DEFAULT now(), -- when a queued event is due
    lock_id     bigint,                        -- fencing token of the running attempt
    locked_by   text,                          -- the instance that ran (or runs) it
    lease_until timestamptz,                   -- a running attempt's lease; renewed by heartbeats
    last_error  text,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz                    -- when it became done or dead
);
CREATE INDEX events_ready    ON events (endpoint, run_at) WHERE state = 'queued';
CREATE INDEX events_leased   ON events (lease_until) WHERE state = 'running';
CREATE INDEX events_finished ON events (finished_at) WHERE state IN ('done', 'dead');
CREATE INDEX events_by_id    ON events (provider, event_id);
CREATE INDEX events_by_type  ON events (provider, type, received_at);
CREATE INDEX events_by_time  ON events (received_at);

-- Dead letters (receiver.DeadLetterStore), by provider and DeadLetter.Key().
CREATE TABLE dead_letters (
    provider    text        NOT NULL,
    key         text        NOT NULL,
    event_id    text        NOT NULL,
    type        text        NOT NULL,
    version     text        NOT NULL DEFAULT '',
    received_at timestamptz,
    received_ns integer     NOT NULL DEFAULT 0,
    header      bytea,
    body        bytea,
    payload     bytea,
    meta        bytea,
    attempt     integer     NOT NULL,
    claim_token text        NOT NULL DEFAULT '',
    reason      bytea       NOT NULL,          -- DeadLetter.Reason, byte for byte
    failed_at   timestamptz NOT NULL,
    failed_ns   integer     NOT NULL DEFAULT 0,
    stored_seq  bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (provider, key)
);
CREATE INDEX dead_letters_order ON dead_letters (failed_at, failed_ns, stored_seq);
