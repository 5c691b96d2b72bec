-- SCIM 2.0 provisioning: org-bound tokens, the org's provisioning settings, what the
-- provisioning client knows of each member (its externalId, active), and suspended
-- memberships.

-- A SCIM client's credential: works only under /scim/v2, for its own org. Only the SHA-256
-- of the secret is kept.
CREATE TABLE scim_tokens (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_by   TEXT REFERENCES users(id) ON DELETE SET NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX scim_tokens_org ON scim_tokens(org_id, id);
CREATE INDEX scim_tokens_creator ON scim_tokens(created_by) WHERE created_by IS NOT NULL;

-- How provisioning treats newcomers: their role (and the group → role map), and how they
-- first sign in (`sso`: through the org's connection; `email`: an activation email; NULL:
-- `sso` when the org has an active connection, else `email`).
CREATE TABLE scim_settings (
  org_id          TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
  default_role    TEXT NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('member', 'viewer', 'editor')),
  group_role_map  TEXT NOT NULL DEFAULT '{}',
  activation      TEXT CHECK (activation IN ('sso', 'email')),
  last_request_at INTEGER
);

-- A member of the org as the provisioning client wrote it: kept as sent, so that what a
-- client writes is what it reads back (its login name need not be the email; its names,
-- emails and phone numbers are the directory's). The account (users) follows it: its email
-- is the primary email, its names these names.
CREATE TABLE scim_users (
  org_id        TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  user_name     TEXT NOT NULL,
  user_name_key TEXT NOT NULL,                           -- lower-cased: unique case-insensitively
  external_id   TEXT,
  given_name    TEXT NOT NULL DEFAULT '',
  family_name   TEXT NOT NULL DEFAULT '',
  display_name  TEXT,
  emails        TEXT NOT NULL DEFAULT '[]',              -- JSON [{value, type, primary}]
  phone_numbers TEXT NOT NULL DEFAULT '[]',              -- JSON [{value, type, primary}]
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE UNIQUE INDEX scim_users_name ON scim_users(org_id, user_name_key);
CREATE UNIQUE INDEX scim_users_external ON scim_users(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX scim_users_user ON scim_users(user_id);

-- A suspended membership (SCIM `active: false`): the person keeps their place (role,
-- workspaces, groups, grants, seat) but is no member for access until it is restored.
ALTER TABLE org_members ADD COLUMN suspended_at INTEGER;

-- A group's id at the provisioning client.
ALTER TABLE groups ADD COLUMN external_id TEXT;

-- The org's member count, kept by triggers: a SCIM Users page answers `totalResults` from
-- the org's row instead of counting its members (a page of 10,000 members reads what a page
-- of 100 reads).
ALTER TABLE orgs ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE orgs SET member_count = (SELECT COUNT(*) FROM org_members WHERE org_members.org_id = orgs.id);
CREATE TRIGGER org_members_counted_in AFTER INSERT ON org_members BEGIN
  UPDATE orgs SET member_count = member_count + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER org_members_counted_out AFTER DELETE ON org_members BEGIN
  UPDATE orgs SET member_count = member_count - 1 WHERE id = OLD.org_id;
END;
CREATE UNIQUE INDEX groups_external ON groups(org_id, external_id) WHERE external_id IS NOT NULL;
