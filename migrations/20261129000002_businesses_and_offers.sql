-- Supply side: businesses, their members (owner and staff), staff invitations and offers.
-- Expand-only: new tables; the previous release ignores them.

CREATE TABLE businesses (
    id                BIGSERIAL PRIMARY KEY,
    owner_id          BIGINT NOT NULL REFERENCES users (telegram_id),
    name              TEXT NOT NULL CHECK (char_length(name) BETWEEN 2 AND 80),
    street            TEXT NOT NULL CHECK (char_length(street) BETWEEN 3 AND 120),
    city              TEXT NOT NULL CHECK (char_length(city) BETWEEN 2 AND 80),
    postal_code       TEXT NOT NULL CHECK (char_length(postal_code) BETWEEN 3 AND 10),
    phone             TEXT,
    logo_file_id      TEXT,
    latitude          DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude         DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    rejection_reason  TEXT,
    decided_by        BIGINT,
    decided_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The same business (name and address, ignoring case) cannot be registered twice; a rejected
-- application does not block a corrected one.
CREATE UNIQUE INDEX businesses_unique_name_address
    ON businesses (lower(name), lower(street), lower(city), lower(postal_code))
    WHERE status <> 'rejected';
CREATE INDEX businesses_pending ON businesses (created_at) WHERE status = 'pending';
CREATE INDEX businesses_location ON businesses (latitude, longitude);

-- Who may act for a business. The owner has a row too, so one lookup answers every check.
CREATE TABLE business_members (
    business_id  BIGINT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (telegram_id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    added_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (business_id, user_id)
);
CREATE INDEX business_members_user ON business_members (user_id);

-- Single-use, expiring staff invitations (`business_invite_<token>` deep links).
CREATE TABLE business_invites (
    token        TEXT PRIMARY KEY,
    business_id  BIGINT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    created_by   BIGINT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_by      BIGINT,
    used_at      TIMESTAMPTZ
);

CREATE TABLE offers (
    id               BIGSERIAL PRIMARY KEY,
    business_id      BIGINT NOT NULL REFERENCES businesses (id),
    category         TEXT NOT NULL
                     CHECK (category IN ('ready_meals', 'bakery', 'produce', 'groceries', 'other')),
    title            TEXT NOT NULL CHECK (char_length(title) BETWEEN 3 AND 60),
    description      TEXT NOT NULL CHECK (char_length(description) <= 200),
    photo_file_id    TEXT,
    pickup_start     TIMESTAMPTZ NOT NULL,
    pickup_end       TIMESTAMPTZ NOT NULL,
    -- Units still available to reserve; reservations hold the others.
    units_available  INTEGER NOT NULL CHECK (units_available >= 0),
    -- Money in minor units of `currency` (cents for EUR), never floating point.
    price_minor      BIGINT NOT NULL CHECK (price_minor > 0),
    original_minor   BIGINT CHECK (original_minor IS NULL OR original_minor > price_minor),
    currency         TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    state            TEXT NOT NULL DEFAULT 'ACTIVE'
                     CHECK (state IN ('ACTIVE', 'PAUSED', 'SOLD_OUT', 'EXPIRED', 'EXPIRED_EARLY')),
    created_by       BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at         TIMESTAMPTZ,
    CHECK (pickup_end > pickup_start),
    -- An ACTIVE offer has something to sell; a SOLD_OUT one has nothing.
    CHECK (state <> 'ACTIVE' OR units_available > 0),
    CHECK (state <> 'SOLD_OUT' OR units_available = 0)
);

CREATE INDEX offers_business ON offers (business_id, created_at DESC);
-- The expiry job and the customer search look at open offers only.
CREATE INDEX offers_open_by_end ON offers (pickup_end)
    WHERE state IN ('ACTIVE', 'PAUSED', 'SOLD_OUT');

-- The state machine's transitions, enforced by the database as well as by the application
-- (marketplace::offer::OfferState::can_become): whatever writes to `offers`, a final state stays
-- final and no forbidden edge is taken.
CREATE FUNCTION offers_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state, NEW.state) IN (
        ('ACTIVE', 'PAUSED'), ('PAUSED', 'ACTIVE'),
        ('ACTIVE', 'SOLD_OUT'), ('SOLD_OUT', 'ACTIVE'),
        ('ACTIVE', 'EXPIRED'), ('PAUSED', 'EXPIRED'), ('SOLD_OUT', 'EXPIRED'),
        ('ACTIVE', 'EXPIRED_EARLY'), ('PAUSED', 'EXPIRED_EARLY'), ('SOLD_OUT', 'EXPIRED_EARLY')
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'offer % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER offers_state_transition
    BEFORE UPDATE OF state ON offers
    FOR EACH ROW EXECUTE FUNCTION offers_check_transition();
