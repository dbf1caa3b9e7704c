-- Demand side: customer preferences, reservations, favourites and ratings.
-- Expand-only: new tables and new columns with defaults; the previous release ignores them.

-- What a customer chose in /settings, and the location Nearby searches from.
CREATE TABLE customer_settings (
    user_id              BIGINT PRIMARY KEY REFERENCES users (telegram_id),
    latitude             DOUBLE PRECISION CHECK (latitude BETWEEN -90 AND 90),
    longitude            DOUBLE PRECISION CHECK (longitude BETWEEN -180 AND 180),
    radius_km            INTEGER NOT NULL DEFAULT 5 CHECK (radius_km BETWEEN 1 AND 100),
    notifications        BOOLEAN NOT NULL DEFAULT true,
    -- Quiet hours as minutes after midnight in the bot's TIMEZONE; both or neither.
    quiet_start_minute   INTEGER CHECK (quiet_start_minute BETWEEN 0 AND 1439),
    quiet_end_minute     INTEGER CHECK (quiet_end_minute BETWEEN 0 AND 1439),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL)),
    CHECK ((quiet_start_minute IS NULL) = (quiet_end_minute IS NULL))
);

CREATE TABLE reservations (
    id                BIGSERIAL PRIMARY KEY,
    offer_id          BIGINT NOT NULL REFERENCES offers (id),
    business_id       BIGINT NOT NULL REFERENCES businesses (id),
    customer_id       BIGINT NOT NULL REFERENCES users (telegram_id),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    -- The price when reserved: later price edits never change what a customer agreed to pay.
    unit_price_minor  BIGINT NOT NULL CHECK (unit_price_minor > 0),
    total_minor       BIGINT NOT NULL,
    currency          TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Shown by the customer at the counter; unique within the business.
    pickup_code       TEXT NOT NULL CHECK (pickup_code ~ '^[A-Z2-9]{6}$'),
    state             TEXT NOT NULL DEFAULT 'CONFIRMED'
                      CHECK (state IN ('CONFIRMED', 'PICKED_UP', 'CANCELLED', 'NO_SHOW')),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    reminded_at       TIMESTAMPTZ,
    picked_up_at      TIMESTAMPTZ,
    picked_up_by      BIGINT,
    cancelled_at      TIMESTAMPTZ,
    CHECK (total_minor = unit_price_minor * quantity),
    UNIQUE (business_id, pickup_code)
);

CREATE INDEX reservations_customer ON reservations (customer_id, created_at DESC);
CREATE INDEX reservations_offer ON reservations (offer_id, state);
-- The reminder and no-show job looks at open reservations only.
CREATE INDEX reservations_confirmed ON reservations (offer_id) WHERE state = 'CONFIRMED';

-- CONFIRMED is the only state with a way out, enforced here as in
-- marketplace::reservation::ReservationState::can_become.
CREATE FUNCTION reservations_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF OLD.state = 'CONFIRMED' AND NEW.state IN ('PICKED_UP', 'CANCELLED', 'NO_SHOW') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'reservation % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reservations_state_transition
    BEFORE UPDATE OF state ON reservations
    FOR EACH ROW EXECUTE FUNCTION reservations_check_transition();

CREATE TABLE favourites (
    user_id      BIGINT NOT NULL REFERENCES users (telegram_id),
    business_id  BIGINT NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, business_id)
);
-- Alerts fan out from a business to its followers.
CREATE INDEX favourites_business ON favourites (business_id);

-- One rating per picked-up reservation.
CREATE TABLE ratings (
    reservation_id  BIGINT PRIMARY KEY REFERENCES reservations (id),
    business_id     BIGINT NOT NULL REFERENCES businesses (id),
    customer_id     BIGINT NOT NULL,
    stars           SMALLINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment         TEXT CHECK (char_length(comment) <= 500),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Kept with the business so that every card shows its rating without an aggregate query.
ALTER TABLE businesses
    ADD COLUMN rating_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN rating_sum   INTEGER NOT NULL DEFAULT 0;

-- Customer search: the reservable offers of a business, soonest end first.
CREATE INDEX offers_reservable_by_business ON offers (business_id, pickup_end)
    WHERE state = 'ACTIVE';
