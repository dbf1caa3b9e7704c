-- Staff management (/staff): who invited each member, and invitation links an owner can list
-- and revoke by id (a token is a secret and too long for a button). Expand only.
ALTER TABLE business_members ADD COLUMN invited_by BIGINT;

ALTER TABLE business_invites ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE business_invites ADD CONSTRAINT business_invites_id_key UNIQUE (id);
CREATE INDEX business_invites_open ON business_invites (business_id) WHERE used_at IS NULL;
