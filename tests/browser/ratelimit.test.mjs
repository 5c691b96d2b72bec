// The sign-in page under the API's rate limit: a 429 is shown with its wait, and nothing
// about the account is given away.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startConsole, newPage, expectAccessible, assertNoProblems } from "./support.mjs";

let env;
before(async () => {
  // Three attempts per account per window, fewer than the lockout's five.
  env = await startConsole({ vars: { RATE_LIMIT_PER_ACCOUNT: "3" } });
});
after(async () => { await env?.dispose(); });

test("too many sign-in attempts: the page says how long to wait; the account is neither locked nor signed in", async () => {
  const u = await env.w.activeUser();
  const page = await newPage(env);
  await page.goto("/signin");
  await page.getByLabel("Email").fill(u.email);
  for (let i = 0; i < 3; i++) {
    await page.getByLabel("Password").fill(`wrong password ${i}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "The email or the password is wrong." }).waitFor();
  }
  await page.getByLabel("Password").fill("wrong password 3");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert").filter({ hasText: /Too many attempts\. Try again in \d+ (seconds?|minutes)\./ });
  await alert.waitFor();
  await expectAccessible(page, "sign-in, rate limited");
  const row = await env.w.one("SELECT status, failed_logins FROM users WHERE id = ?", u.user.id);
  assert.equal(row.status, "active");
  assert.equal(row.failed_logins, 3, "the refused attempt was not even counted");
  assert.equal((await env.w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND auth_method = 'password' AND ended_at IS NULL", u.user.id)).n, 1, "only the activation's session");
  assertNoProblems(page);
  await page.context().close();
});
