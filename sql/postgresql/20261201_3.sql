-- Homes of deleted accounts whose data is to be removed (an SftpUser with reclaimPolicy
-- Delete). The row is written in the transaction that deletes the account; a server process,
-- which sees the homes, removes the data and then the row. claimed_by and not_before are a
-- lease: a process that dies while removing leaves the row due again when the lease ends.
-- filesystem is the account's storage as JSON text (an S3 home needs its bucket and prefix).
CREATE TABLE home_removals (
  id BIGSERIAL PRIMARY KEY,
  username VARCHAR(255) COLLATE "C" NOT NULL,
  home_dir TEXT NOT NULL,
  filesystem TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  claimed_by VARCHAR(128) COLLATE "C" NOT NULL DEFAULT '',
  not_before BIGINT NOT NULL
);
CREATE INDEX home_removals_not_before_idx ON home_removals (not_before);

-- One row whose lock orders account writes that give a home (shared) against recording and
-- claiming removals (exclusive), so neither acts on a check the other has made stale.
CREATE TABLE home_removal_lock (id INTEGER PRIMARY KEY);
INSERT INTO home_removal_lock (id) VALUES (1);
