-- Sessions counted across processes: one row per logged-in connection, kept alive by the
-- heartbeat of its server process (node_id). A row whose expires_at has passed no longer
-- counts for max_sessions, and the quota it held reserved is free again: a killed process's
-- sessions lapse by themselves. Times are Unix milliseconds of the database's clock.
-- reserved_size and reserved_files are quota set aside for the session's uploads before
-- their bytes are written; they move into the user's used_quota_* as uploads close.

CREATE TABLE sessions (
  id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  node_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  protocol VARCHAR(16) CHARACTER SET ascii NOT NULL,
  client_ip VARCHAR(64) CHARACTER SET ascii NOT NULL,
  started_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  reserved_size BIGINT NOT NULL DEFAULT 0,
  reserved_files BIGINT NOT NULL DEFAULT 0,
  KEY sessions_username_idx (username, expires_at),
  KEY sessions_node_id_idx (node_id),
  KEY sessions_expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
