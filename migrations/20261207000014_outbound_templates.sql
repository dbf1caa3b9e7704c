-- A queued message can carry what to render instead of finished text: a catalogue message id,
-- its arguments and its buttons' label ids, rendered in the recipient's language when it is
-- sent. The payload keeps a text rendered when it was queued, which is sent if the template
-- cannot be read (a message id this version does not know), and rows queued before this column
-- existed have finished text only.
ALTER TABLE outbound_messages ADD COLUMN template jsonb;
