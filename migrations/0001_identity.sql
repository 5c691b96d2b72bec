-- Identity core. Times are Unix epoch milliseconds (INTEGER) so that expiry checks are
-- plain integer comparisons inside single statements; the API renders them as RFC 3339.

CREATE TABLE users (
  id                   TEXT PRIMARY KEY,                -- UUIDv7
  email                TEXT NOT NULL UNIQUE,            -- stored lower-cased: unique case-insensitively
  first_name           TEXT NOT NULL,
  last_name            TEXT NOT NULL,
  phone                TEXT,                            -- E.164
  password_hash        TEXT,                            -- PHC string; NULL until the user sets one
  must_change_password INTEGER NOT NULL DEFAULT 0,      -- single-use password issued by an admin
  status               TEXT NOT NULL CHECK (status IN ('pending', 'active', 'locked')),
  email_verified       INTEGER NOT NULL DEFAULT 0,
  pending_email        TEXT,
  failed_logins        INTEGER NOT NULL DEFAULT 0,      -- consecutive; reset by a successful login or a reset
  created_by_org_id    TEXT,                            -- set for accounts an org manages
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  last_login_at        INTEGER
);

CREATE TABLE orgs (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  description  TEXT,
  logo_url     TEXT,
  owner_id     TEXT NOT NULL REFERENCES users(id),
  member_limit INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX orgs_owner ON orgs(owner_id);

CREATE TABLE workspaces (
  id          TEXT PRIMARY KEY,
  org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  description TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX workspaces_org ON workspaces(org_id, id);

CREATE TABLE org_members (
  org_id    TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer', 'member')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

CREATE TABLE workspace_members (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  org_id       TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
  added_at     INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user ON workspace_members(user_id);

CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  auth_method  TEXT NOT NULL,
  ip           TEXT,
  user_agent   TEXT,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  ended_at     INTEGER,                                 -- set once; a session never comes back
  end_reason   TEXT
);
CREATE INDEX sessions_user ON sessions(user_id, id);
CREATE INDEX sessions_ended ON sessions(ended_at);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Every refresh token ever issued for a session, so that presenting a rotated one is
-- recognised as reuse (and ends the session) rather than as an unknown token.
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,                          -- SHA-256 hex of the token
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  rotated_at INTEGER,
  rotated_by TEXT                                       -- request id that rotated it: gates the successor
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- Emailed single-use tokens (and the password-change token of a single-use password login).
CREATE TABLE user_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose    TEXT NOT NULL CHECK (purpose IN ('activation', 'password_reset', 'email_verification', 'password_change')),
  new_email  TEXT,                                      -- email_verification only
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  used_by    TEXT                                       -- request id that consumed it: gates the batch's effects
);
CREATE INDEX user_tokens_user ON user_tokens(user_id, purpose);
CREATE INDEX user_tokens_expiry ON user_tokens(expires_at);

CREATE TABLE audit_events (
  id              TEXT PRIMARY KEY,                     -- UUIDv7: ordering by id is ordering by time
  org_id          TEXT,                                 -- NULL for events about one user only
  subject_user_id TEXT,                                 -- the user an account event is about
  at              INTEGER NOT NULL,
  actor_id        TEXT,
  actor_email     TEXT,
  action          TEXT NOT NULL,
  target_type     TEXT,
  target_id       TEXT,
  ip              TEXT,
  user_agent      TEXT,
  auth_method     TEXT,
  success         INTEGER NOT NULL DEFAULT 1,
  metadata        TEXT                                  -- JSON object
);
CREATE INDEX audit_events_org ON audit_events(org_id, id);
CREATE INDEX audit_events_subject ON audit_events(subject_user_id, id);
CREATE INDEX audit_events_at ON audit_events(at);

-- One row per email message; the id is the idempotency key the consumer honours.
CREATE TABLE outbox (
  id            TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,
  recipient     TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  claimed_until INTEGER,                                -- a consumer holds the message until then
  ref_type      TEXT,
  ref_id        TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  sent_at       INTEGER
);
CREATE INDEX outbox_ref ON outbox(ref_type, ref_id);
CREATE INDEX outbox_created ON outbox(created_at);

-- Development only: what the consumer delivered, for GET /v1/dev/mailbox.
CREATE TABLE dev_mailbox (
  id         TEXT PRIMARY KEY,
  recipient  TEXT NOT NULL,
  subject    TEXT NOT NULL,
  text_body  TEXT NOT NULL,
  html_body  TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX dev_mailbox_recipient ON dev_mailbox(recipient, id);

-- Fixed one-minute windows; a D1 upsert is atomic, so concurrent requests count exactly.
CREATE TABLE rate_limits (
  bucket       TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  hits         INTEGER NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limits_window ON rate_limits(window_start);

-- Never holds a row. A batch asserts a condition with
--   INSERT INTO batch_guards (ok) SELECT NULL WHERE NOT (<condition>)
-- which violates NOT NULL, and so rolls back the whole batch, exactly when the condition
-- fails (D1 has no BEGIN/ROLLBACK; a batch is one transaction).
CREATE TABLE batch_guards (ok INTEGER NOT NULL);
