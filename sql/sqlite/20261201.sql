-- Sessions counted across processes: one row per logged-in connection, kept alive by the
-- heartbeat of its server process (node_id). A row whose expires_at has passed no longer
-- counts for max_sessions, and the quota it held reserved is free again: a killed process's
-- sessions lapse by themselves. Times are Unix milliseconds.
-- reserved_size and reserved_files are quota set aside for the session's uploads before
-- their bytes are written; they move into the user's used_quota_* as uploads close.

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  node_id TEXT NOT NULL,
  protocol TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  reserved_size INTEGER NOT NULL DEFAULT 0,
  reserved_files INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_username_idx ON sessions (username, expires_at);
CREATE INDEX sessions_node_id_idx ON sessions (node_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
