// Who is signed in: the account and its memberships (`GET /v1/me`), shared by every screen.
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export const SessionContext = createContext(null);

/** `{ me, reload, signOut }`; `me` is null while signed out. */
export function useSession() {
  return useContext(SessionContext);
}

/** The org permissions a role holds, as `GET /v1/orgs/{org}` lists them for the caller. */
export function can(org, permission) {
  return Boolean(org?.permissions?.includes(permission));
}
