-- Homes of deleted accounts whose data is to be removed (an SftpUser with reclaimPolicy
-- Delete). The row is written in the transaction that deletes the account; a server process,
-- which sees the homes, removes the data and then the row. claimed_by and not_before are a
-- lease: a process that dies while removing leaves the row due again when the lease ends.
-- filesystem is the account's storage as JSON text (an S3 home needs its bucket and prefix).
-- Writers take turns on the database's write lock (BEGIN IMMEDIATE), so SQLite needs no lock row.
CREATE TABLE home_removals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  home_dir TEXT NOT NULL,
  filesystem TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  claimed_by TEXT NOT NULL DEFAULT '',
  not_before INTEGER NOT NULL
);
CREATE INDEX home_removals_not_before_idx ON home_removals (not_before);
