-- When the replies of a processed update were handed to Telegram. Replies are sent after the
-- processing transaction commits, so this comes after processed_at (or never, after a crash
-- between the two).
ALTER TABLE inbox_updates ADD COLUMN replied_at timestamptz;
