-- Erasure that does what it says: a queued message that names a person records whom it names,
-- so /delete_my_data can redact it; an audit event whose payload was redacted says when.
-- Expand only.
ALTER TABLE outbound_messages ADD COLUMN about_user BIGINT;
CREATE INDEX outbound_messages_about_user ON outbound_messages (about_user)
    WHERE about_user IS NOT NULL;

ALTER TABLE audit_events ADD COLUMN redacted_at TIMESTAMPTZ;
