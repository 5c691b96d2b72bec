-- API tokens (SPEC §2): long-lived secrets for machines, scoped to one org with a role and
-- an optional workspace list. Only the SHA-256 of the secret is kept; a token is revoked,
-- never deleted, so the audit trail and the list keep naming it.

CREATE TABLE api_tokens (
  id              TEXT PRIMARY KEY,                     -- UUIDv7: newest first is id order
  org_id          TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  name_key        TEXT NOT NULL,                        -- lower-cased: unique among live tokens
  role            TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  scoped          INTEGER NOT NULL DEFAULT 0,           -- 1: only the api_token_workspaces rows
  token_hash      TEXT NOT NULL UNIQUE,
  created_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER,                              -- NULL: until revoked
  last_used_at    INTEGER,
  revoked_at      INTEGER,
  revoked_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
  revoked_request TEXT                                  -- request id that revoked it: one event
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens(org_id, name_key) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_org ON api_tokens(org_id, id);

-- A scoped token's workspaces. A deleted workspace drops out; a scoped token whose
-- workspaces are all gone reaches nothing (it never widens to the whole org).
CREATE TABLE api_token_workspaces (
  token_id     TEXT NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  PRIMARY KEY (token_id, workspace_id)
);
CREATE INDEX api_token_workspaces_ws ON api_token_workspaces(workspace_id);

-- Who acted: NULL (legacy rows) or 'user' with actor_id/actor_email, 'api_token' with
-- actor_id = the token and actor_name = its name, 'operator'.
ALTER TABLE audit_events ADD COLUMN actor_type TEXT;
ALTER TABLE audit_events ADD COLUMN actor_name TEXT;

-- An invitation sent by an API token (invited_by is then NULL).
ALTER TABLE invitations ADD COLUMN invited_by_token TEXT;

-- Earlier rows: user actors carry an id; the operator was recorded by the email "operator".
UPDATE audit_events SET actor_type = 'user' WHERE actor_id IS NOT NULL;
UPDATE audit_events SET actor_type = 'operator', actor_email = NULL
  WHERE actor_id IS NULL AND actor_email = 'operator';
