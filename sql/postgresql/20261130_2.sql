-- Administrators can be disabled and carry a description. Existing ones stay active.
ALTER TABLE admins ADD COLUMN status INTEGER NOT NULL DEFAULT 1;
ALTER TABLE admins ADD COLUMN description TEXT NOT NULL DEFAULT '';
