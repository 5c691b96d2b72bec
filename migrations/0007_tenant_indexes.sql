-- No statement may read other tenants' rows (tests/query-plans.test.mjs explains every one).

-- The seat count (store::members::SEATS_USED: every invitation, member addition and the usage
-- overview) reads the org's pending invitations that have not expired. Its only index was
-- invitations_due (status, expires_at), the cron's: every pending invitation of every org.
CREATE INDEX invitations_org_due ON invitations(org_id, status, expires_at);

-- Deleting an account deletes its grants in every org; grants_principal leads with the org.
CREATE INDEX grants_user ON grants(principal_id) WHERE principal_type = 'user';

-- Deleting an org deletes or unmarks the accounts it manages.
CREATE INDEX users_managed ON users(created_by_org_id) WHERE created_by_org_id IS NOT NULL;

-- The sweep deletes tokens used a week ago: without it, `used_at < ? OR expires_at < ?`
-- scanned every account's tokens each minute.
CREATE INDEX user_tokens_used ON user_tokens(used_at) WHERE used_at IS NOT NULL;

-- Foreign keys whose child column led no index: deleting the parent (an account, an org)
-- made SQLite scan the whole child table to apply ON DELETE, every tenant's rows included.
CREATE INDEX workspace_members_org ON workspace_members(org_id, user_id);
CREATE INDEX group_members_member ON group_members(user_id);
CREATE INDEX invitations_inviter ON invitations(invited_by);
CREATE INDEX api_tokens_creator ON api_tokens(created_by);
-- Most tokens are never revoked: only revoked ones need an entry.
CREATE INDEX api_tokens_revoker ON api_tokens(revoked_by) WHERE revoked_by IS NOT NULL;
