// CPU profile of the Worker under load (`npm run profile -- <scenario> [seconds]`): serves the
// built Worker with Miniflare (as bench/run.mjs does), attaches V8's sampling profiler through
// the inspector, drives one route at 16 connections with autocannon, and prints where the
// isolate's time goes: self time and inclusive time per function (wasm functions by name, so
// build with `KEEP_WASM_NAMES=1 npm run build` first, else frames are numbered). The raw profile is written to
// bench/profiles/<scenario>.cpuprofile (open it in Chrome DevTools' Performance panel).
//
// Scenarios: bare (the bare workers-rs Worker of bench/floor, its constant route), health
// (the service's trivial route: its pipeline alone), ready (the one-read floor), me (GET /v1/me), members (members page, 100 members),
// authz (authorization check), login (POST /v1/auth/login).
import { mkdirSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { startWorker, PASSWORD } from "../tests/helpers.mjs";
import { httpClient, seedMembers, ensureFloorBuilt, startFloor } from "./fixtures.mjs";

const scenario = process.argv[2] ?? "me";
const seconds = Number(process.argv[3] ?? 8);
const PORT = Number(process.env.BENCH_PORT ?? 8797);
const INSPECTOR = Number(process.env.INSPECTOR_PORT ?? 9339);
const BASE = `http://127.0.0.1:${PORT}`;

const request = httpClient(BASE);
/** The body of a successful call; anything else stops the run. */
async function http(method, path, body, token) {
  const r = await request(method, path, body, token);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspector() {
  const [target] = await (await fetch(`http://127.0.0.1:${INSPECTOR}/json`)).json();
  // The proxy refuses upgrades without an Origin it trusts.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: "http://127.0.0.1" } });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 1;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    }
  };
  return {
    send(method, params = {}) {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    close: () => ws.close(),
  };
}

/** Self and inclusive milliseconds per function name, from a V8 CPU profile. */
function summarize(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const inclusive = new Map();
  const name = (n) => n.callFrame.functionName || `(anonymous ${n.callFrame.url.split("/").pop()})`;
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const leaf = byId.get(id);
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + dt);
    const seen = new Set();
    for (let n = leaf; n; n = byId.get(parent.get(n.id))) {
      const k = name(n);
      if (seen.has(k)) continue; // recursion counts once
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  });
  const top = (m, k) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { total, self: top(self, 40), inclusive: top(inclusive, 60) };
}

/** The service with the profiled scenario's fixtures: the route to drive. */
async function serviceTarget(w) {
  // The two routes that need no account.
  if (scenario === "health") return { path: "/health" };
  if (scenario === "ready") return { path: "/health/ready" };
  const user = await w.activeUser();
  const token = (await http("POST", "/v1/auth/login", { email: user.email, password: PASSWORD })).access_token;
  const org = await http("POST", "/v1/orgs", { name: "profile" }, token);
  await seedMembers(w.db, org.id, 100);
  const ws = await http("POST", `/v1/orgs/${org.id}/workspaces`, { name: "Main" }, token);
  const target = {
    me: { path: "/v1/me", token },
    members: { path: `/v1/orgs/${org.id}/members?limit=50`, token },
    authz: {
      path: "/v1/authz/check", method: "POST", token,
      body: { workspace_id: ws.id, action: "edit", resource: { type: "dashboard", id: "d-7" } },
    },
    login: { path: "/v1/auth/login", method: "POST", body: { email: user.email, password: PASSWORD } },
  }[scenario];
  if (!target) throw new Error(`unknown scenario ${scenario}`);
  return target;
}

if (scenario === "bare") ensureFloorBuilt();
const w = scenario === "bare"
  ? { mf: await startFloor({ port: PORT, inspectorPort: INSPECTOR }), dispose() { return this.mf.dispose(); } }
  : await startWorker({
    port: PORT,
    inspectorPort: INSPECTOR,
    onLog: () => {}, // thousands of lines a second would only load the machine
    vars: { LOCKOUT_THRESHOLD: "100", RATE_LIMIT_PER_IP: "1000000", RATE_LIMIT_PER_ACCOUNT: "1000000" },
  });
try {
  const target = scenario === "bare" ? { path: "/" } : await serviceTarget(w);
  const headers = { "content-type": "application/json" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const run = () => autocannon({
    url: BASE + target.path, method: target.method ?? "GET", headers,
    body: target.body && JSON.stringify(target.body), connections: 16, duration: seconds,
  });
  await run(); // warm: V8 tiers the hot wasm functions up before sampling starts

  const cdp = await inspector();
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  const result = await run();
  const { profile } = await cdp.send("Profiler.stop");
  cdp.close();

  mkdirSync(new URL("./profiles/", import.meta.url), { recursive: true });
  writeFileSync(new URL(`./profiles/${scenario}.cpuprofile`, import.meta.url), JSON.stringify(profile));
  const { total, self, inclusive } = summarize(profile);
  const busy = total - (self.find(([k]) => k === "(idle)")?.[1] ?? 0);
  const requests = result.requests.total;
  console.log(`${scenario}: ${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx, ` +
    `isolate busy ${(busy / 1000).toFixed(2)} s of ${(total / 1000).toFixed(2)} s, ` +
    `${((busy / requests) * 1000).toFixed(0)} µs per request`);
  const line = ([k, ms]) => `${((ms / requests) * 1000).toFixed(1).padStart(8)} µs/req ` +
    `${((ms / busy) * 100).toFixed(1).padStart(5)} %  ${k.slice(0, 150)}`;
  console.log("\nSelf time:");
  for (const e of self) console.log(line(e));
  console.log("\nInclusive time:");
  for (const e of inclusive) console.log(line(e));
} finally {
  await w.dispose();
}
