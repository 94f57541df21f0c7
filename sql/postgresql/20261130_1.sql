-- The defender's scores and bans per client address, shared by every server on this database.
-- events is a list of {"at": unix ms, "score": n} inside the observation window.
-- A row whose expires_at has passed holds nothing worth keeping and is deleted by the cleanup.

CREATE TABLE defender_hosts (
  ip VARCHAR(64) PRIMARY KEY,
  events JSONB NOT NULL DEFAULT '[]',
  ban_until BIGINT NOT NULL DEFAULT 0,
  ban_ms BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX defender_hosts_expires_at_idx ON defender_hosts (expires_at);
CREATE INDEX defender_hosts_updated_at_idx ON defender_hosts (updated_at);
