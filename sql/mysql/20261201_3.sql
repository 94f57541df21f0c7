-- Homes of deleted accounts whose data is to be removed (an SftpUser with reclaimPolicy
-- Delete). The row is written in the transaction that deletes the account; a server process,
-- which sees the homes, removes the data and then the row. claimed_by and not_before are a
-- lease: a process that dies while removing leaves the row due again when the lease ends.
-- filesystem is the account's storage as JSON text (an S3 home needs its bucket and prefix).
CREATE TABLE home_removals (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  home_dir TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  filesystem TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  requested_at BIGINT NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL,
  claimed_by VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  not_before BIGINT NOT NULL,
  KEY home_removals_not_before_idx (not_before)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row whose lock orders account writes that give a home (shared) against recording and
-- claiming removals (exclusive), so neither acts on a check the other has made stale.
CREATE TABLE home_removal_lock (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO home_removal_lock (id) VALUES (1);
