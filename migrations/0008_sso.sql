-- Enterprise SSO (OpenID Connect): verified domains, connections, sign-in flows, one-time
-- exchange codes and federated identities.

-- A domain an org claims. It counts for SSO (discovery, the email check, enforcement) only
-- while `verified`: proven by a DNS TXT record, re-checked by the cron, `lapsed` when the
-- record is gone.
CREATE TABLE org_domains (
  id          TEXT PRIMARY KEY,
  org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  domain      TEXT NOT NULL,                           -- lower-case, no trailing dot
  status      TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'lapsed')),
  token       TEXT NOT NULL,                           -- the TXT record's value
  created_by  TEXT REFERENCES users(id) ON DELETE SET NULL,
  created_at  INTEGER NOT NULL,
  verified_at INTEGER,
  checked_at  INTEGER,
  check_error TEXT
);
CREATE UNIQUE INDEX org_domains_org ON org_domains(org_id, domain);
-- One org per verified domain, whatever races: the second verification fails the batch.
CREATE UNIQUE INDEX org_domains_verified ON org_domains(domain) WHERE status = 'verified';
-- Sign-in and enforcement look a domain up by name (verified ones only).
CREATE INDEX org_domains_name ON org_domains(domain, status);
-- The cron's re-check: verified domains checked longest ago first.
CREATE INDEX org_domains_recheck ON org_domains(checked_at) WHERE status = 'verified';

-- An org's OpenID provider. The client secret is AES-GCM encrypted with SSO_ENCRYPTION_KEY.
CREATE TABLE sso_connections (
  id                     TEXT PRIMARY KEY,
  org_id                 TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  name                   TEXT NOT NULL,
  issuer                 TEXT NOT NULL,
  client_id              TEXT NOT NULL,
  client_secret          TEXT NOT NULL,                -- base64url(iv ‖ ciphertext)
  default_role           TEXT NOT NULL CHECK (default_role IN ('member', 'viewer', 'editor')),
  jit                    INTEGER NOT NULL,
  group_claim            TEXT,
  group_role_map         TEXT NOT NULL DEFAULT '{}',   -- JSON object: group → org role
  scopes                 TEXT NOT NULL,
  status                 TEXT NOT NULL CHECK (status IN ('draft', 'active')),
  enforce                INTEGER NOT NULL DEFAULT 0,
  -- From the provider's discovery document, read when the issuer is set.
  authorization_endpoint TEXT NOT NULL,
  token_endpoint         TEXT NOT NULL,
  jwks_uri               TEXT NOT NULL,
  token_auth             TEXT NOT NULL CHECK (token_auth IN ('client_secret_basic', 'client_secret_post')),
  iss_parameter          INTEGER NOT NULL,             -- RFC 9207: the provider sends `iss`
  last_test              TEXT,                         -- JSON: the last test sign-in's outcome
  tested_ok              INTEGER NOT NULL DEFAULT 0,   -- a test succeeded since the last credential change
  created_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL,
  activated_at           INTEGER
);
CREATE INDEX sso_connections_org ON sso_connections(org_id, status, created_at);

-- One authorization request in flight: state, nonce and PKCE verifier, one-time, bound to the
-- browser that started it by the hash of its flow cookie. A `ticket` row is an admin's
-- permission to start a test sign-in (POST …/test), turned into a flow by /start.
CREATE TABLE sso_flows (
  id_hash       TEXT PRIMARY KEY,                      -- SHA-256 of the state (or the ticket)
  kind          TEXT NOT NULL CHECK (kind IN ('signin', 'test', 'ticket')),
  connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
  org_id        TEXT NOT NULL,
  nonce         TEXT,
  code_verifier TEXT,
  browser_hash  TEXT,                                  -- SHA-256 of the flow cookie
  tester_id     TEXT,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  used_at       INTEGER
);
CREATE INDEX sso_flows_expiry ON sso_flows(expires_at);
CREATE INDEX sso_flows_connection ON sso_flows(connection_id);

-- What a successful callback hands the front end: a one-time code for POST …/exchange.
CREATE TABLE sso_codes (
  code_hash     TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  used_at       INTEGER
);
CREATE INDEX sso_codes_expiry ON sso_codes(expires_at);
CREATE INDEX sso_codes_user ON sso_codes(user_id);
CREATE INDEX sso_codes_connection ON sso_codes(connection_id);

-- A person at a provider: found by (connection, sub), never by email alone.
CREATE TABLE sso_identities (
  connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
  subject       TEXT NOT NULL,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  org_id        TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  email         TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER,
  removed_at    INTEGER,                               -- an admin removed the member
  PRIMARY KEY (connection_id, subject)
);
CREATE INDEX sso_identities_user ON sso_identities(user_id);
CREATE INDEX sso_identities_org ON sso_identities(org_id, user_id);

-- Accounts that exist through a provider (created by just-in-time provisioning): no local
-- password, names from the claims. Deleting the connection makes them ordinary accounts
-- again (a password reset then gives them a password).
ALTER TABLE users ADD COLUMN federated_by TEXT REFERENCES sso_connections(id) ON DELETE SET NULL;
CREATE INDEX users_federated ON users(federated_by) WHERE federated_by IS NOT NULL;
