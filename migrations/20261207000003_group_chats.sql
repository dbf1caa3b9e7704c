-- Groups and channels the bot was added to. The marketplace works in private chats only; a group
-- is told so once (told_at), and nothing private is ever posted there.
CREATE TABLE group_chats (
    chat_id     BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    title       TEXT,
    added_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    told_at     TIMESTAMPTZ,
    left_at     TIMESTAMPTZ
);
