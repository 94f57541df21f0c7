-- Accounts written by the Kubernetes operator name their SftpUser ("namespace/name") here; the
-- REST API refuses to change or delete them. Empty for accounts managed through the REST API.
ALTER TABLE "{{users_table}}" ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
