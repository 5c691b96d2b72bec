// Browser tests: the built console and the real Worker served by Miniflare on a loopback
// port (local D1, KV, queues), driven by Chromium through playwright-core. Chromium is
// Debian's (`scripts/setup.sh --browser` installs it); Playwright downloads no browser.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import net from "node:net";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { startWorker } from "../helpers.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The service on http://127.0.0.1:<free port>, with APP_URL pointing there so every
 * emailed link opens the console, and a headless Chromium.
 */
export async function startConsole({ vars = {}, quiet = false } = {}) {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run bash scripts/setup.sh --browser`);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // `quiet`: the Worker's log lines are dropped (the benchmark's thousands of requests).
  const w = await startWorker({ port, vars: { APP_URL: origin, ...vars }, ...(quiet ? { onLog: () => {} } : {}) });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  return {
    w,
    browser,
    origin,
    async dispose() {
      await browser.close();
      await w.dispose();
    },
  };
}

/**
 * A page in a fresh browser context (its own cookies). Script errors and failed console
 * messages fail the test that reads `page.problems` (`assertNoProblems`).
 */
export async function newPage(env, { width = 1280, height = 860 } = {}) {
  const context = await env.browser.newContext({ baseURL: env.origin, viewport: { width, height } });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // A 4xx the console asked for and explains is not a problem of the page; CSP
    // violations and script errors are.
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
      page.problems.push(`console error: ${m.text()}`);
    }
  });
  return page;
}

export function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], "the page logged no script error and no CSP violation");
}

/** axe-core in the page: no serious or critical violation (WCAG 2.x A/AA and best practice). */
export async function expectAccessible(page, what) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`);
  assert.deepEqual(bad, [], `axe on ${what}`);
}

/** The link of the newest mail to `to` whose subject matches (the dev mailbox). */
export async function mailLink(w, to, subject) {
  const m = await w.mail(to, subject);
  const link = m.text.match(/https?:\/\/\S+\?token=[A-Za-z0-9_-]{43}/)?.[0];
  assert.ok(link, `no link in mail: ${m.text}`);
  return link;
}

/** Signs in through the sign-in page and waits until the console left it. */
export async function signInThroughPage(page, email, password) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.pathname !== "/signin");
}
