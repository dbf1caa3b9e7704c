-- Foundation schema: users, the durable update inbox, conversation state, the outbound queue
-- and audit events. Migrations are expand/contract: a release's migrations keep the previous
-- release working, so a rolled-back binary runs against a schema that is ahead of it.

CREATE TABLE users (
    telegram_id    BIGINT PRIMARY KEY,
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT,
    username       TEXT,
    language_code  TEXT,
    first_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when Telegram says the user blocked the bot; nothing is sent until they come back.
    blocked_at     TIMESTAMPTZ,
    -- Set by /delete_my_data: personal fields are erased, the id stays so that history keeps
    -- its references.
    erased_at      TIMESTAMPTZ
);

-- Every update Telegram delivers is stored here before it is acknowledged.
CREATE TABLE inbox_updates (
    update_id      BIGINT PRIMARY KEY,
    -- Chat (or user) whose updates must be processed in order.
    ordering_key   BIGINT NOT NULL,
    payload        JSONB NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The replica that stored or claimed the update owns it until then.
    claimed_until  TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    processed_at   TIMESTAMPTZ,
    outcome        TEXT CHECK (outcome IN ('handled', 'rate_limited', 'ignored', 'failed'))
);

-- Partial indexes keep claims and per-chat ordering checks fast however large the table grows.
CREATE INDEX inbox_updates_pending_claim ON inbox_updates (claimed_until, update_id)
    WHERE processed_at IS NULL;
CREATE INDEX inbox_updates_pending_by_key ON inbox_updates (ordering_key, update_id)
    WHERE processed_at IS NULL;
CREATE INDEX inbox_updates_processed_at ON inbox_updates (processed_at)
    WHERE processed_at IS NOT NULL;

CREATE TABLE conversations (
    user_id     BIGINT NOT NULL,
    chat_id     BIGINT NOT NULL,
    flow        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, chat_id)
);

-- Messages the bot starts itself (alerts, reminders, notifications), sent within Telegram's limits.
CREATE TABLE outbound_messages (
    id            BIGSERIAL PRIMARY KEY,
    chat_id       BIGINT NOT NULL,
    method        TEXT NOT NULL,
    payload       JSONB NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'dropped', 'failed')),
    not_before    TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at       TIMESTAMPTZ
);

CREATE INDEX outbound_messages_due ON outbound_messages (not_before, id)
    WHERE status = 'pending';

CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    occurred_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id     BIGINT,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT,
    before       JSONB,
    after        JSONB
);

CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
