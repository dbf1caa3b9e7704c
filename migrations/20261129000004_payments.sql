-- Payments: in-chat payment through Telegram Payments (Stripe as provider), holds that expire,
-- refunds through the Stripe API and Stripe's webhook events.
-- Expand-only: new columns with defaults, wider CHECKs, new tables; the previous release neither
-- writes nor needs them.

-- How a business takes money: at the counter, in the chat, or either.
ALTER TABLE businesses
    ADD COLUMN payment_mode TEXT NOT NULL DEFAULT 'on_site'
        CHECK (payment_mode IN ('on_site', 'in_app', 'both'));

-- A hold waiting for its payment is PENDING_PAYMENT until it is paid (CONFIRMED) or lapses
-- (EXPIRED). Payment progress is its own column, not more reservation states.
ALTER TABLE reservations DROP CONSTRAINT reservations_state_check;
ALTER TABLE reservations
    ADD CONSTRAINT reservations_state_check CHECK (state IN (
        'PENDING_PAYMENT', 'CONFIRMED', 'PICKED_UP', 'CANCELLED', 'NO_SHOW', 'EXPIRED')),
    ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'NONE'
        CHECK (payment_status IN (
            'NONE', 'PENDING', 'PAID', 'REFUND_PENDING', 'REFUNDED', 'REFUND_FAILED')),
    ADD COLUMN hold_expires_at TIMESTAMPTZ,
    ADD CONSTRAINT reservations_hold_has_expiry
        CHECK (state <> 'PENDING_PAYMENT' OR hold_expires_at IS NOT NULL);

CREATE INDEX reservations_holds ON reservations (hold_expires_at) WHERE state = 'PENDING_PAYMENT';

-- The transitions of marketplace::reservation::ReservationState::can_become. A late payment
-- revives an EXPIRED hold when units are left.
CREATE OR REPLACE FUNCTION reservations_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state, NEW.state) IN (
        ('PENDING_PAYMENT', 'CONFIRMED'), ('PENDING_PAYMENT', 'EXPIRED'),
        ('PENDING_PAYMENT', 'CANCELLED'), ('EXPIRED', 'CONFIRMED'),
        ('CONFIRMED', 'PICKED_UP'), ('CONFIRMED', 'CANCELLED'), ('CONFIRMED', 'NO_SHOW')
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'reservation % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;

-- One row per successful_payment; Telegram's charge id makes a redelivery a no-op.
CREATE TABLE payments (
    id                          BIGSERIAL PRIMARY KEY,
    reservation_id              BIGINT NOT NULL REFERENCES reservations (id),
    telegram_payment_charge_id  TEXT NOT NULL UNIQUE,
    provider_payment_charge_id  TEXT NOT NULL,
    amount_minor                BIGINT NOT NULL CHECK (amount_minor > 0),
    currency                    TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_reservation ON payments (reservation_id);
CREATE INDEX payments_provider_charge ON payments (provider_payment_charge_id);

-- A full refund of a payment, requested from Stripe with a fixed Idempotency-Key so that a
-- retry never refunds twice.
CREATE TABLE refunds (
    id                BIGSERIAL PRIMARY KEY,
    payment_id        BIGINT NOT NULL UNIQUE REFERENCES payments (id),
    reservation_id    BIGINT NOT NULL REFERENCES reservations (id),
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    currency          TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL UNIQUE,
    reason            TEXT NOT NULL,
    requested_by      BIGINT,
    status            TEXT NOT NULL DEFAULT 'requested'
                      CHECK (status IN ('requested', 'pending', 'succeeded', 'failed')),
    stripe_refund_id  TEXT UNIQUE,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'requested';

-- Stripe webhook events already handled (Stripe delivers at least once).
CREATE TABLE stripe_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
