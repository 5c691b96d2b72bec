-- The member directory's version per org: every change to what a directory page shows
-- (memberships and roles, the members' names, emails, phones, statuses, their workspace
-- roles and groups, the names of those workspaces and groups) bumps it, by trigger, so no
-- write path can forget to. A directory page read at version v is the same page as long
-- as the org is still at v: the Worker keeps pages it rendered and serves one again after
-- a version check in the same round trip as the caller's credentials (store::members).
ALTER TABLE orgs ADD COLUMN directory_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER directory_member_added AFTER INSERT ON org_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER directory_member_changed AFTER UPDATE ON org_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id IN (OLD.org_id, NEW.org_id);
END;
CREATE TRIGGER directory_member_removed AFTER DELETE ON org_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;

-- Only the columns a page shows (or filters on): logins and lockout counters do not count.
CREATE TRIGGER directory_user_changed
AFTER UPDATE OF email, first_name, last_name, phone, status, created_by_org_id ON users BEGIN
  UPDATE orgs SET directory_version = directory_version + 1
  WHERE id IN (SELECT org_id FROM org_members WHERE user_id = NEW.id);
END;
-- Before: once the account is gone its memberships are too.
CREATE TRIGGER directory_user_deleted BEFORE DELETE ON users BEGIN
  UPDATE orgs SET directory_version = directory_version + 1
  WHERE id IN (SELECT org_id FROM org_members WHERE user_id = OLD.id);
END;

CREATE TRIGGER directory_workspace_role_added AFTER INSERT ON workspace_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER directory_workspace_role_changed AFTER UPDATE ON workspace_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id IN (OLD.org_id, NEW.org_id);
END;
CREATE TRIGGER directory_workspace_role_removed AFTER DELETE ON workspace_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;
CREATE TRIGGER directory_workspace_renamed AFTER UPDATE OF name ON workspaces BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER directory_workspace_deleted AFTER DELETE ON workspaces BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;

CREATE TRIGGER directory_group_joined AFTER INSERT ON group_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER directory_group_left AFTER DELETE ON group_members BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;
CREATE TRIGGER directory_group_renamed AFTER UPDATE OF name ON groups BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = NEW.org_id;
END;
CREATE TRIGGER directory_group_deleted AFTER DELETE ON groups BEGIN
  UPDATE orgs SET directory_version = directory_version + 1 WHERE id = OLD.org_id;
END;
