-- The request that ended a session: racing requests that each try to end it (a reused
-- refresh token presented by several at once) guard on it, so exactly one records the event.
ALTER TABLE sessions ADD COLUMN ended_by TEXT;
