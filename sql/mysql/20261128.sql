-- Initial kubesftp schema for MySQL 8 and MariaDB 10.5+: accounts, administrators and secrets.
-- {{users_table}} is data_provider.users_table, checked to be a plain identifier.
-- Names compare byte for byte (utf8mb4_bin), as in SQLite and PostgreSQL: "Alice" is not "alice".
-- JSON columns have no default because MySQL allows none on them; kubesftp always writes them.
-- MySQL commits each DDL statement on its own: kubesftp applies this file under GET_LOCK.

CREATE TABLE `{{users_table}}` (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  password TEXT NOT NULL,
  public_keys JSON NOT NULL,
  status INTEGER NOT NULL DEFAULT 1,
  expiration_date BIGINT NOT NULL DEFAULT 0,
  home_dir TEXT NOT NULL,
  uid BIGINT NOT NULL DEFAULT 0,
  gid BIGINT NOT NULL DEFAULT 0,
  max_sessions BIGINT NOT NULL DEFAULT 0,
  quota_size BIGINT NOT NULL DEFAULT 0,
  quota_files BIGINT NOT NULL DEFAULT 0,
  permissions JSON NOT NULL,
  used_quota_size BIGINT NOT NULL DEFAULT 0,
  used_quota_files BIGINT NOT NULL DEFAULT 0,
  last_quota_update BIGINT NOT NULL DEFAULT 0,
  upload_bandwidth BIGINT NOT NULL DEFAULT 0,
  download_bandwidth BIGINT NOT NULL DEFAULT 0,
  last_login BIGINT NOT NULL DEFAULT 0,
  filters JSON NOT NULL,
  filesystem JSON NOT NULL,
  UNIQUE KEY `{{users_table}}_username_idx` (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE admins (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  password TEXT NOT NULL,
  UNIQUE KEY admins_username_idx (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE secrets (
  name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
