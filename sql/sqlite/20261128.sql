-- Initial kubesftp schema for SQLite: accounts, administrators and provider secrets.
-- {{users_table}} is data_provider.users_table, checked to be a plain identifier.
-- JSON columns hold the account properties that are lists or objects.

CREATE TABLE "{{users_table}}" (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  password TEXT NOT NULL DEFAULT '',
  public_keys TEXT NOT NULL DEFAULT '[]',
  status INTEGER NOT NULL DEFAULT 1,
  expiration_date INTEGER NOT NULL DEFAULT 0,
  home_dir TEXT NOT NULL,
  uid INTEGER NOT NULL DEFAULT 0,
  gid INTEGER NOT NULL DEFAULT 0,
  max_sessions INTEGER NOT NULL DEFAULT 0,
  quota_size INTEGER NOT NULL DEFAULT 0,
  quota_files INTEGER NOT NULL DEFAULT 0,
  permissions TEXT NOT NULL,
  used_quota_size INTEGER NOT NULL DEFAULT 0,
  used_quota_files INTEGER NOT NULL DEFAULT 0,
  last_quota_update INTEGER NOT NULL DEFAULT 0,
  upload_bandwidth INTEGER NOT NULL DEFAULT 0,
  download_bandwidth INTEGER NOT NULL DEFAULT 0,
  last_login INTEGER NOT NULL DEFAULT 0,
  filters TEXT NOT NULL DEFAULT '{"allowed_ip":[],"denied_ip":[]}',
  filesystem TEXT NOT NULL DEFAULT '{"provider":0}'
);
-- Logins look users up by name and listings page in name order.
CREATE UNIQUE INDEX "{{users_table}}_username_idx" ON "{{users_table}}" (username);

CREATE TABLE admins (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  password TEXT NOT NULL
);
CREATE UNIQUE INDEX admins_username_idx ON admins (username);

CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
