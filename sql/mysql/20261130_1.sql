-- The defender's scores and bans per client address, shared by every server on this database.
-- events is a JSON list of {"at": unix ms, "score": n} inside the observation window.
-- A row whose expires_at has passed holds nothing worth keeping and is deleted by the cleanup.

CREATE TABLE defender_hosts (
  ip VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  events JSON NOT NULL,
  ban_until BIGINT NOT NULL DEFAULT 0,
  ban_ms BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  KEY defender_hosts_expires_at_idx (expires_at),
  KEY defender_hosts_updated_at_idx (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
