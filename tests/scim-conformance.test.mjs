// SCIM conformance (issue 21): scripts/scim-conformance.sh — scim2-tester (through scim2-cli)
// and scim-sanity's probe, both from PyPI — against the real Worker served on a loopback
// port, with a SCIM token of a fresh organization. Passes only when both tools report no
// failure (the script's exit status); their whole output is in .venv-scim/last-report.txt.
// The first run installs the tools (pinned) into .venv-scim/, which needs python3 and PyPI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker } from "./helpers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A loopback port nothing listens on now (SCIM_CONFORMANCE_PORT overrides). */
async function freePort() {
  if (process.env.SCIM_CONFORMANCE_PORT) return Number(process.env.SCIM_CONFORMANCE_PORT);
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs the script with `env` added; resolves {code, output} (stdout and stderr, interleaved). */
function runConformance(env) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(root, "scripts/scim-conformance.sh")], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => { output += d; });
    child.stderr.on("data", (d) => { output += d; });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

let w;
let port;
before(async () => {
  port = await freePort();
  w = await startWorker({ port });
});
after(async () => {
  await w?.dispose();
});

test("scim conformance: scim2-tester and scim-sanity probe report no failure against /scim/v2", { timeout: 15 * 60_000 }, async () => {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const res = await w.post(`/v1/orgs/${org}/scim-tokens`, { name: "conformance" }, { token: owner.access_token });
  assert.equal(res.status, 201, `create a SCIM token: ${JSON.stringify(res.body)}`);

  const { code, output } = await runConformance({
    SCIM_BASE_URL: `http://127.0.0.1:${port}/scim/v2`,
    SCIM_TOKEN: res.body.token,
  });
  // What failed, where a reader of the test output looks first: every line that is not a
  // success, then the summary. The whole run is in the report.
  const lines = output.split("\n");
  const failures = lines.flatMap((l, i) => (/^(Error:|(ERROR|CRITICAL|SKIPPED|DEVIATION|COMPLIANT|ACCEPTABLE)\b)|\[(FAIL|ERR ?)\]/.test(l)
    ? [l, ...(/^ {2,}\S/.test(lines[i + 1] ?? "") ? [lines[i + 1]] : [])]
    : []));
  const summary = output.slice(output.lastIndexOf("=== summary ===")).trim();
  assert.equal(code, 0, `scripts/scim-conformance.sh exited ${code}\n${failures.join("\n")}\n${summary || output.slice(-4000)}`);
});
