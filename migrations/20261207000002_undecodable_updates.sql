-- Updates the bot cannot decode are kept with a reason instead of being ignored silently.
-- Expand-only: the previous release never writes the new outcome.
ALTER TABLE inbox_updates DROP CONSTRAINT inbox_updates_outcome_check;
ALTER TABLE inbox_updates
    ADD CONSTRAINT inbox_updates_outcome_check
        CHECK (outcome IN ('handled', 'rate_limited', 'ignored', 'failed', 'undecodable'));
