-- Users who sign in through the organisation's directory (LDAP, OpenID Connect): where they come
-- from, who the directory says they are, the groups that gave their role, and when it was read.
-- Their password_hash is a marker no password matches: they never sign in with a local password.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap', 'oidc'));
-- The LDAP DN, or the OpenID Provider's subject.
ALTER TABLE users ADD COLUMN external_id TEXT;
-- The groups that gave the role, one per line.
ALTER TABLE users ADD COLUMN role_groups TEXT;
ALTER TABLE users ADD COLUMN last_login_at TEXT;
-- When the directory last confirmed the role (sign-in or refresh).
ALTER TABLE users ADD COLUMN role_checked_at TEXT;
-- 1 when `disabled` was set because the directory no longer gives a role (removed from every
-- mapped group, or gone): a later sign-in that maps again enables them; an admin's disable stays.
ALTER TABLE users ADD COLUMN disabled_by_directory INTEGER NOT NULL DEFAULT 0 CHECK (disabled_by_directory IN (0, 1));
