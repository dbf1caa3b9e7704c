-- Payment guarantees: every successful_payment is recorded, whether or not it can settle a hold;
-- refunds are per payment; refunded amounts are tracked per Stripe refund; a partial refund is
-- a state of its own.
-- Expand-only: nullable columns and wider CHECKs; the previous release never writes the new
-- values and ignores the new columns.

-- Who paid, and whether this payment is the one that settles (or was meant to settle) its
-- reservation. A second charge for a paid hold, or a charge for no hold of ours, settles
-- nothing and is refunded on its own.
ALTER TABLE payments
    ALTER COLUMN reservation_id DROP NOT NULL,
    ADD COLUMN payer_id BIGINT,
    ADD COLUMN invoice_payload TEXT,
    ADD COLUMN settles BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0);
UPDATE payments p SET payer_id = r.customer_id FROM reservations r WHERE r.id = p.reservation_id;
-- Earlier releases recorded a second charge for a paid hold against the same reservation.
UPDATE payments p SET settles = false
WHERE EXISTS (SELECT 1 FROM payments q WHERE q.reservation_id = p.reservation_id AND q.id < p.id);
-- One settling payment per reservation: a second one can never be attached by mistake.
CREATE UNIQUE INDEX payments_settling ON payments (reservation_id) WHERE settles;

ALTER TABLE refunds ALTER COLUMN reservation_id DROP NOT NULL;

-- Refunds as Stripe reports them, by Stripe's refund id: ours and any made elsewhere (e.g. a
-- partial refund from Stripe's dashboard). A payment's refunded amount is their sum.
CREATE TABLE provider_refunds (
    id            TEXT PRIMARY KEY,
    payment_id    BIGINT NOT NULL REFERENCES payments (id),
    amount_minor  BIGINT NOT NULL CHECK (amount_minor >= 0),
    status        TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX provider_refunds_payment ON provider_refunds (payment_id);

ALTER TABLE reservations DROP CONSTRAINT reservations_payment_status_check;
ALTER TABLE reservations
    ADD CONSTRAINT reservations_payment_status_check CHECK (payment_status IN (
        'NONE', 'PENDING', 'PAID', 'REFUND_PENDING', 'REFUNDED', 'PARTIALLY_REFUNDED',
        'REFUND_FAILED')),
    -- When pre-checkout last said yes: a second checkout of the same hold within a short time is
    -- a payment already in flight.
    ADD COLUMN checkout_approved_at TIMESTAMPTZ;

-- The day's reconciliation with Stripe: what differed, for people to look at.
CREATE TABLE payment_discrepancies (
    id           BIGSERIAL PRIMARY KEY,
    found_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind         TEXT NOT NULL,
    charge_id    TEXT NOT NULL,
    detail       TEXT NOT NULL,
    UNIQUE (kind, charge_id)
);

-- Which days were reconciled (one runner per day, whichever replica claims it first).
CREATE TABLE payment_reconciliations (
    day            DATE PRIMARY KEY,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ,
    charges        INTEGER,
    discrepancies  INTEGER
);
