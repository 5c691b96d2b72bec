// The console's figures (issue 19), run by `npm run bench` after the API's, or alone:
// `node bench/console.mjs [samples]`. Serves the built Worker and console on a loopback
// port with local D1 (tests/browser/support.mjs) and drives Debian's Chromium:
//  - size: the gzip bytes of the first load (index.html, the entry script and the chunks it
//    imports, the stylesheet: build/console-size.json, written by scripts/console.mjs) and
//    of every file;
//  - the sign-in page opened in a fresh browser context (nothing cached), median of the
//    samples: the navigation timing's response end and DOMContentLoaded, the first
//    contentful paint, and "interactive": until the form's button is on the page (the app
//    rendered), all from navigation start;
//  - the members screen of an org with 10,000 members, signed in: first rows shown after
//    opening the screen, a search answered, the next page loaded; each with the rows D1
//    read for the API calls it made (their `server-timing`).
// Wall times on a shared 2-core machine: compare within one run.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PASSWORD } from "../tests/helpers.mjs";
import { startConsole, newPage, signInThroughPage } from "../tests/browser/support.mjs";
import { seedMembers } from "./fixtures.mjs";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Rows D1 read for the API responses `page` receives while `action` runs. */
async function rowsRead(page, action) {
  const reads = [];
  const onResponse = (res) => {
    const timing = res.headers()["server-timing"];
    const m = timing && /d1-rows;desc="(\d+) read/.exec(timing);
    if (res.url().includes("/v1/") && m) reads.push(Number(m[1]));
  };
  page.on("response", onResponse);
  const started = performance.now();
  await action();
  const ms = performance.now() - started;
  page.off("response", onResponse);
  return { ms: Math.round(ms), api_calls: reads.length, rows_read: reads.reduce((a, b) => a + b, 0) };
}

export async function consoleFigures(samples = 7) {
  const size = JSON.parse(readFileSync(fileURLToPath(new URL("../build/console-size.json", import.meta.url)), "utf8"));
  const env = await startConsole({ quiet: true });
  try {
    const loads = [];
    for (let i = 0; i < samples; i++) {
      const page = await newPage(env);
      await page.goto("/signin");
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      const t = await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0];
        const fcp = performance.getEntriesByName("first-contentful-paint")[0];
        return { response_end_ms: nav.responseEnd, dom_content_loaded_ms: nav.domContentLoadedEventEnd,
          first_contentful_paint_ms: fcp?.startTime ?? null, interactive_ms: performance.now() };
      });
      loads.push(t);
      await page.context().close();
    }
    const first = Object.fromEntries(Object.keys(loads[0]).map((k) => [k, Math.round(median(loads.map((l) => l[k])))]));

    const { w } = env;
    const owner = await w.activeUser();
    const org = (await w.post("/v1/orgs", { name: "Ten thousand" }, { token: owner.access_token })).body;
    await seedMembers(w.db, org.id, 10000);
    const page = await newPage(env);
    await signInThroughPage(page, owner.email, PASSWORD);
    const open = await rowsRead(page, async () => {
      await page.goto(`/orgs/${org.id}/members`);
      await page.getByRole("row", { name: /Member N/ }).first().waitFor();
    });
    const search = await rowsRead(page, async () => {
      await page.getByLabel("Search by name or email").fill("n9876");
      await page.getByRole("row", { name: /Member N9876\b/ }).waitFor();
    });
    await page.getByLabel("Search by name or email").fill("");
    await page.getByRole("button", { name: "Load more" }).waitFor();
    const more = await rowsRead(page, async () => {
      await page.getByRole("button", { name: "Load more" }).click();
      await page.getByRole("row").nth(100).waitFor();
    });
    await page.context().close();
    return { samples, size, first_load: first, members_10000: { open, search, next_page: more } };
  } finally {
    await env.dispose();
  }
}

export function printConsoleFigures(c) {
  console.log(`\n## The console (Chromium, median of ${c.samples} fresh loads of /signin)`);
  console.log(`First load: ${c.size.first_load_gzip.toLocaleString("en")} B gzip (${c.size.first_load_files.join(", ")}); every file: ${c.size.all_gzip.toLocaleString("en")} B gzip. Budget: 50,000 B.`);
  console.log("| from navigation start | ms |\n|---|---|");
  for (const [k, v] of Object.entries(c.first_load)) console.log(`| ${k} | ${v} |`);
  console.log("\n| members screen, 10,000 members | ms | API calls | D1 rows read |\n|---|---|---|---|");
  for (const [k, v] of Object.entries(c.members_10000)) console.log(`| ${k} | ${v.ms} | ${v.api_calls} | ${v.rows_read} |`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printConsoleFigures(await consoleFigures(Number(process.argv[2] ?? 7)));
}
