-- hookwise adapters/postgres, schema version 2: fan-out targets and
-- per-key ordering lines. Apply it, like 0001, with search_path set to the
-- adapter's schema. Adding a column with a constant default rewrites no
-- table (PostgreSQL 11 and later).

-- Event.Target: the handler a fan-out copy of an event is for; '' for an
-- event as delivered. A copy has its own claim token (events.claim_token
-- stays unique), dedupe key ("provider:ID target") and dead letter
-- (DeadLetter.Key() "~target~ID").
ALTER TABLE events       ADD COLUMN target text NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN target text NOT NULL DEFAULT '';

-- Ordering lines (driver.OrderStore): per ordering key (a 64-character
-- hexadecimal hash), the claim tokens of the events waiting to run one at a
-- time, first in line the lowest seq. An entry not renewed before
-- expires_at counts as absent; Turn deletes a key's lapsed entries, and the
-- Inbox's cleanup those of keys nobody touches again.
CREATE TABLE order_lines (
    key        text        NOT NULL,
    token      text        NOT NULL,
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key, token)
);
CREATE INDEX order_lines_line    ON order_lines (key, seq);
CREATE INDEX order_lines_expires ON order_lines (expires_at);
