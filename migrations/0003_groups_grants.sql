-- Groups and resource grants (SPEC §2): a group is a named set of org members, optionally
-- restricting them to listed resources; a grant gives a user or a group `view`, `edit` or
-- `manage` on an external resource of a workspace.

CREATE TABLE groups (
  id           TEXT PRIMARY KEY,
  org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  name_key     TEXT NOT NULL,                           -- lower-cased: names are unique case-insensitively
  description  TEXT,
  restrictions TEXT NOT NULL DEFAULT '[]',              -- JSON [{type, id}]; non-empty = a restricting group
  restricting  INTEGER NOT NULL DEFAULT 0,              -- restrictions is non-empty (indexed checks)
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  UNIQUE (org_id, name_key)
);
CREATE INDEX groups_org ON groups(org_id, id);

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  org_id   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(org_id, user_id);

CREATE TABLE grants (
  id             TEXT PRIMARY KEY,
  org_id         TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  principal_type TEXT NOT NULL CHECK (principal_type IN ('user', 'group')),
  principal_id   TEXT NOT NULL,
  resource_type  TEXT NOT NULL,
  resource_id    TEXT NOT NULL,
  permission     TEXT NOT NULL CHECK (permission IN ('view', 'edit', 'manage')),
  created_by     TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  UNIQUE (workspace_id, resource_type, resource_id, principal_type, principal_id)
);
CREATE INDEX grants_principal ON grants(org_id, principal_type, principal_id);
CREATE INDEX grants_workspace ON grants(workspace_id, id);
