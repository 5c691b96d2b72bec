// `npm run screenshots`: PNGs of the console's main screens into docs/screenshots/, for the
// README. Serves the built Worker and console (`npm run build` first) with local D1, seeds
// one organization through the API, signs in through the page and photographs each screen
// in Chromium (Debian's, as the browser tests use), light, 1280 × 800, plus the members
// screen at 375 px wide and in dark mode.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freshEmail, PASSWORD } from "../tests/helpers.mjs";
import { startConsole, newPage, signInThroughPage, mailLink } from "../tests/browser/support.mjs";

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "../docs/screenshots");
mkdirSync(out, { recursive: true });

const env = await startConsole();
const { w } = env;
try {
  // One organization with a few people, workspaces, a group, invitations and a token.
  const owner = await w.activeUser({ email: freshEmail("ada") });
  const org = owner.organization.id;
  const as = { token: owner.access_token };
  const ws2 = (await w.post(`/v1/orgs/${org}/workspaces`, { name: "Berlin plant", description: "Line 2 sensors" }, as)).body;
  const people = [
    ["Grace", "Hopper", "admin"], ["Alan", "Turing", "editor"], ["Katherine", "Johnson", "viewer"],
    ["Edsger", "Dijkstra", "member"], ["Barbara", "Liskov", "editor"],
  ];
  for (const [first, last, role] of people) {
    await w.post(`/v1/orgs/${org}/members`, {
      email: freshEmail(first.toLowerCase()), first_name: first, last_name: last, role,
      workspaces: role === "member" ? [{ workspace_id: ws2.id, role: "viewer" }] : [],
      credential: "activation_email",
    }, as);
  }
  await w.post(`/v1/orgs/${org}/groups`, { name: "Operators", description: "Line operators" }, as);
  for (const email of ["margaret@example.com", "john@example.com"]) {
    await w.post(`/v1/orgs/${org}/invitations`, { email, role: "viewer", message: "Join the dashboard team" }, as);
  }
  await w.post(`/v1/orgs/${org}/api-tokens`, { name: "Telemetry ingest", role: "editor" }, as);
  const invitee = freshEmail("linus");
  await w.post(`/v1/orgs/${org}/invitations`, { email: invitee, role: "editor", workspaces: [{ workspace_id: ws2.id, role: "editor" }], message: "Welcome to the Berlin plant team!" }, as);
  const inviteLink = await mailLink(w, invitee, /invit/i);

  const shoot = async (page, name) => {
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    console.log(`docs/screenshots/${name}.png`);
  };

  const guest = await newPage(env, { width: 1280, height: 800 });
  await guest.goto("/signin");
  await shoot(guest, "sign-in");
  await guest.goto(inviteLink);
  await guest.getByRole("heading", { name: /Join/ }).waitFor();
  await shoot(guest, "accept-invitation");
  await guest.context().close();

  const page = await newPage(env, { width: 1280, height: 800 });
  await signInThroughPage(page, owner.email, PASSWORD);
  for (const screen of ["members", "invitations", "roles", "workspaces", "groups", "api-tokens", "audit", "usage", "settings"]) {
    await page.goto(`/orgs/${org}/${screen}`);
    await page.locator("h1").first().waitFor();
    await shoot(page, `org-${screen}`);
  }
  await page.goto("/account");
  await page.locator("h1").first().waitFor();
  await shoot(page, "account-profile");
  await page.context().close();

  const phone = await newPage(env, { width: 375, height: 760 });
  await signInThroughPage(phone, owner.email, PASSWORD);
  await phone.goto(`/orgs/${org}/members`);
  await phone.locator("h1").first().waitFor();
  await shoot(phone, "org-members-375px");
  await phone.context().close();

  const dark = await env.browser.newContext({ baseURL: env.origin, viewport: { width: 1280, height: 800 }, colorScheme: "dark" });
  const darkPage = await dark.newPage();
  await signInThroughPage(darkPage, owner.email, PASSWORD);
  await darkPage.goto(`/orgs/${org}/members`);
  await darkPage.locator("h1").first().waitFor();
  await shoot(darkPage, "org-members-dark");
  await dark.close();
} finally {
  await env.dispose();
}
