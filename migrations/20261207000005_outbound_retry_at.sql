-- A queued message's place in its chat's order is (not_before, id), fixed when it is queued; a
-- retry (Telegram's flood control, a failure) sets retry_at instead, so the chat's later
-- messages wait behind it rather than overtaking it.
ALTER TABLE outbound_messages ADD COLUMN retry_at timestamptz;
CREATE INDEX outbound_messages_pending_by_chat
    ON outbound_messages (chat_id, not_before, id) WHERE status = 'pending';
