-- Invitations (SPEC §2, §4 "Invitations"). A pending invitation holds a seat until it is
-- accepted, declined, withdrawn or expires; times are Unix epoch milliseconds.

CREATE TABLE invitations (
  id           TEXT PRIMARY KEY,                        -- UUIDv7: newest first is id order
  org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  email        TEXT NOT NULL,                           -- lower-cased
  role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer', 'member')),
  groups       TEXT NOT NULL DEFAULT '[]',              -- JSON array of group ids
  message      TEXT,
  invited_by   TEXT REFERENCES users(id) ON DELETE SET NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'expired', 'withdrawn', 'declined')),
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  send_count   INTEGER NOT NULL DEFAULT 1,
  last_sent_at INTEGER NOT NULL,
  email_id     TEXT,                                    -- outbox id of the latest invitation email
  reminded_at  INTEGER,                                 -- the expiry reminder of the current send went out
  ended_at     INTEGER,                                 -- left `pending`
  accepted_by  TEXT,                                    -- user id that joined through it
  ended_by     TEXT                                     -- request id that ended it: gates the batch's effects
);
-- One pending invitation per email and org: two concurrent invitations cannot both exist.
CREATE UNIQUE INDEX invitations_pending_email ON invitations(org_id, email) WHERE status = 'pending';
CREATE INDEX invitations_org ON invitations(org_id, status, id);
CREATE INDEX invitations_org_all ON invitations(org_id, id);
CREATE INDEX invitations_inbox ON invitations(email, status, id);
CREATE INDEX invitations_due ON invitations(status, expires_at);

-- Workspace roles an invitation grants; a deleted workspace drops out of its invitations.
CREATE TABLE invitation_workspaces (
  invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
  workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  PRIMARY KEY (invitation_id, workspace_id)
);
CREATE INDEX invitation_workspaces_ws ON invitation_workspaces(workspace_id);

-- Live links of an invitation (hashes of the emailed secrets). A resend replaces them all;
-- the expiry reminder adds one, so the first email's link keeps working alongside it.
CREATE TABLE invitation_links (
  token_hash    TEXT PRIMARY KEY,                       -- SHA-256 hex
  invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL
);
CREATE INDEX invitation_links_invitation ON invitation_links(invitation_id);

-- Never holds a row, like batch_guards: a batch that would take more seats than the org's
-- `member_limit` inserts NULL here and rolls back; the distinct table name lets the error
-- say `capacity_exceeded` whatever else the batch guards.
CREATE TABLE seat_guards (ok INTEGER NOT NULL);
