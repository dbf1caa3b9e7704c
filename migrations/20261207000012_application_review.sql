-- Name squatting and stale applications. Only live businesses (approved or suspended) hold a
-- name and address exclusively: an application that matches one, or another application, is
-- accepted and shown to the admins side by side instead of being refused. Applications expire
-- after 14 days without a decision; the owner is told a day before (expiry_warned_at).
DROP INDEX businesses_unique_name_address;
CREATE UNIQUE INDEX businesses_unique_name_address
    ON businesses (lower(name), lower(street), lower(city), lower(postal_code))
    WHERE status IN ('approved', 'suspended');
CREATE INDEX businesses_name_address
    ON businesses (lower(name), lower(street), lower(city), lower(postal_code));

ALTER TABLE businesses ADD COLUMN expiry_warned_at TIMESTAMPTZ;
