-- Customer search: All deals and Ending soon read the ACTIVE offers by the end of their pickup
-- window. `offers_open_by_end` also holds the PAUSED and SOLD_OUT ones, which outnumber them.
-- Expand-only: a new index; the previous release does not need it and is not slowed by it.
CREATE INDEX offers_active_by_end ON offers (pickup_end) WHERE state = 'ACTIVE';
