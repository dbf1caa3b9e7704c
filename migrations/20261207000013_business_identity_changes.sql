-- Re-review of identity changes: a change of an approved business's name, address, location or
-- logo waits here for an admin; the listing keeps the approved values until it is accepted.
-- One pending change per business (a further edit updates it). Expand only.
CREATE TABLE business_changes (
    id            BIGSERIAL PRIMARY KEY,
    business_id   BIGINT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    requested_by  BIGINT NOT NULL,
    name          TEXT NOT NULL CHECK (char_length(name) BETWEEN 2 AND 80),
    street        TEXT NOT NULL CHECK (char_length(street) BETWEEN 3 AND 120),
    city          TEXT NOT NULL CHECK (char_length(city) BETWEEN 2 AND 80),
    postal_code   TEXT NOT NULL CHECK (char_length(postal_code) BETWEEN 3 AND 10),
    logo_file_id  TEXT,
    latitude      DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude     DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'rejected')),
    reason        TEXT,
    decided_by    BIGINT,
    decided_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX business_changes_one_pending ON business_changes (business_id)
    WHERE status = 'pending';
