-- Sessions counted across processes: one row per logged-in connection, kept alive by the
-- heartbeat of its server process (node_id). A row whose expires_at has passed no longer
-- counts for max_sessions, and the quota it held reserved is free again: a killed process's
-- sessions lapse by themselves. Times are Unix milliseconds of the database's clock.
-- reserved_size and reserved_files are quota set aside for the session's uploads before
-- their bytes are written; they move into the user's used_quota_* as uploads close.

CREATE TABLE sessions (
  id VARCHAR(64) COLLATE "C" PRIMARY KEY,
  username VARCHAR(255) COLLATE "C" NOT NULL,
  node_id VARCHAR(128) COLLATE "C" NOT NULL,
  protocol VARCHAR(16) NOT NULL,
  client_ip VARCHAR(64) NOT NULL,
  started_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  reserved_size BIGINT NOT NULL DEFAULT 0,
  reserved_files BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_username_idx ON sessions (username, expires_at);
CREATE INDEX sessions_node_id_idx ON sessions (node_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Every server LISTENs on kubesftp_user_changes and closes the sessions of a user that is
-- disabled, renamed or deleted, by kubesftp or by hand. The payload is the old username.
-- Quota counters and last_login change often and notify nobody.
CREATE OR REPLACE FUNCTION kubesftp_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kubesftp_user_changes', OLD.username);
  RETURN NULL;
END
$$;

CREATE TRIGGER "{{users_table}}_notify_update" AFTER UPDATE ON "{{users_table}}"
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.username IS DISTINCT FROM NEW.username)
  EXECUTE FUNCTION kubesftp_user_changed();

CREATE TRIGGER "{{users_table}}_notify_delete" AFTER DELETE ON "{{users_table}}"
  FOR EACH ROW EXECUTE FUNCTION kubesftp_user_changed();
