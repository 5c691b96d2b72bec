// The project benchmark (`npm run bench`): serves the built Worker with Miniflare directly
// (wrangler dev's proxy caps throughput, see TOOLCHAIN.md) and measures, in one run:
//  - wasm size, raw and gzip;
//  - CPU per request of the workerd process (from /proc, so it is real CPU, not wall time)
//    for: the readiness probe, a login with an unknown email (PBKDF2-SHA512 210k on a dummy
//    hash), a wrong-password login against a PBKDF2-SHA256 600k hash, a successful login;
//    next to native OpenSSL (node:crypto) at the same parameters;
//  - warm login latency p50/p99 (sequential);
//  - requests/s and p50/p99 at 16 connections of GET /health (trivial floor),
//    GET /health/ready (one indexed D1 read floor) and GET /v1/me (authorized read);
//  - the members page (limit 50) of an org with 100 members and of one with 10,000, first
//    page and a page deep in the list: keyset pagination should cost the same; and a
//    random page of the 10,000 each request, so the isolate's page cache cannot answer;
//  - the authorization check, one resource and a batch of 100, at 16 connections;
//  - invitation create p50/p99, sequential and 16 in flight;
//  - the concurrency sweep: /health, /health/ready, /v1/me, the members page, the authz
//    check, login, refresh and invitation create at 1, 16 and 64 connections;
//  - the cron over 10,000 overdue invitations: runs needed, CPU, wall time, rows written.
// Figures go to stdout as Markdown and to bench/results.json. Compare ratios within one
// run: the load generator and the server share the machine's cores.
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { execSync } from "node:child_process";
import autocannon from "autocannon";
import { startWorker, freshEmail, PASSWORD } from "../tests/helpers.mjs";
import { httpClient, seedMembers } from "./fixtures.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8799);
const BASE = `http://127.0.0.1:${PORT}`;
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CPU_SAMPLES = Number(process.env.BENCH_CPU_SAMPLES ?? 20);

const ticksPerSecond = Number(execSync("getconf CLK_TCK").toString().trim());

/** CPU seconds (user + system) of every workerd process. */
function workerdCpuSeconds() {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes("workerd")) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime
    } catch {}
  }
  return total;
}

const http = httpClient(BASE);

/** Average workerd CPU milliseconds per call of `fn` over `n` sequential calls. */
async function cpuPerCall(n, fn) {
  await fn(); // warm
  const before = workerdCpuSeconds();
  for (let i = 0; i < n; i++) await fn(i);
  return ((workerdCpuSeconds() - before) * 1000) / n;
}

function nativeMs(digest, iterations) {
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    pbkdf2Sync("correct horse battery staple", randomBytes(16), iterations, 32, digest);
    runs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return runs.sort((a, b) => a - b)[2];
}

function phcSha256(password, iterations) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const b64 = (b) => b.toString("base64").replace(/=+$/, "");
  return `$pbkdf2-sha256$i=${iterations},l=32$${b64(salt)}$${b64(hash)}`;
}

async function load(title, path, { connections = 16, token, method = "GET", body, amount, pathFor } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await autocannon({
    url: BASE + path, method, headers, body: body && JSON.stringify(body), connections,
    ...(amount ? { amount } : { duration: DURATION }),
    // A path per request (`pathFor()`), e.g. a different page each time.
    ...(pathFor ? { requests: [{ setupRequest: (req) => ({ ...req, path: pathFor() }) }] } : {}),
  });
  const non2xx = r.non2xx + r.errors;
  return {
    title, path, connections, requests: r.requests.total, rps: Math.round(r.requests.average),
    p50_ms: r.latency.p50, p99_ms: r.latency.p99, non2xx,
  };
}

const wasm = readFileSync(new URL("../build/index_bg.wasm", import.meta.url));
const size = { raw_bytes: wasm.length, gzip_bytes: gzipSync(wasm, { level: 9 }).length };

const w = await startWorker({
  port: PORT,
  vars: { LOCKOUT_THRESHOLD: "100", RATE_LIMIT_PER_IP: "1000000", RATE_LIMIT_PER_ACCOUNT: "1000000" },
});
try {
  const user = await w.activeUser();
  const victim = await w.activeUser();
  await w.db.prepare("UPDATE users SET password_hash = ? WHERE email = ?")
    .bind(phcSha256("some other password 1", 600000), victim.email).run();

  const cpu = {
    ready_ms: await cpuPerCall(CPU_SAMPLES, () => http("GET", "/health/ready")),
    unknown_email_login_sha512_210k_ms: await cpuPerCall(CPU_SAMPLES, () =>
      http("POST", "/v1/auth/login", { email: freshEmail("nobody"), password: PASSWORD })),
    wrong_password_login_sha256_600k_ms: await cpuPerCall(Math.min(CPU_SAMPLES, 40), () =>
      http("POST", "/v1/auth/login", { email: victim.email, password: "not the password 9" })),
    successful_login_ms: await cpuPerCall(CPU_SAMPLES, () =>
      http("POST", "/v1/auth/login", { email: user.email, password: PASSWORD })),
  };
  cpu.pbkdf2_sha512_210k_in_worker_ms = cpu.unknown_email_login_sha512_210k_ms - cpu.ready_ms;
  cpu.pbkdf2_sha256_600k_in_worker_ms = cpu.wrong_password_login_sha256_600k_ms - cpu.ready_ms;
  const native = {
    pbkdf2_sha512_210k_ms: nativeMs("sha512", 210000),
    pbkdf2_sha256_600k_ms: nativeMs("sha256", 600000),
  };

  const login = await load("POST /v1/auth/login (sequential, warm)", "/v1/auth/login", {
    method: "POST", body: { email: user.email, password: PASSWORD }, connections: 1, amount: 30,
  });
  const token = (await http("POST", "/v1/auth/login", { email: user.email, password: PASSWORD })).body.access_token;
  const rows = [
    await load("GET /health (trivial floor)", "/health"),
    await load("GET /health/ready (one indexed D1 read floor)", "/health/ready"),
    await load("GET /v1/me (authorized read)", "/v1/me", { token }),
  ];

  // Two orgs of the same owner: 100 and 10,000 members, seeded in D1 by one statement each.
  async function orgWithMembers(n) {
    const org = (await http("POST", "/v1/orgs", { name: `bench ${n}` }, token)).body;
    await seedMembers(w.db, org.id, n);
    // A cursor deep in the list: the page after the (n - 60)th member.
    const deep = (await w.db.prepare(
      `SELECT user_id FROM org_members WHERE org_id = ? ORDER BY user_id LIMIT 1 OFFSET ?`).bind(org.id, n - 60).first()).user_id;
    return { org, deepCursor: Buffer.from(`v1:${deep}`).toString("base64url") };
  }
  const small = await orgWithMembers(100);
  const large = await orgWithMembers(10000);
  const membersRows = [
    await load("members page, 100 members, first page", `/v1/orgs/${small.org.id}/members?limit=50`, { token }),
    await load("members page, 10,000 members, first page", `/v1/orgs/${large.org.id}/members?limit=50`, { token }),
    await load("members page, 10,000 members, deep page", `/v1/orgs/${large.org.id}/members?limit=50&cursor=${large.deepCursor}`, { token }),
  ];
  // The same pages with the isolate's page cache out of play: every request asks for the
  // page after a random one of the 10,000 members (the cache keeps 256 pages), so nearly
  // every read renders its 50 rows in D1 as it would right after a directory change.
  const everyone = (await w.db.prepare("SELECT user_id FROM org_members WHERE org_id = ?").bind(large.org.id).all())
    .results.map((r) => Buffer.from(`v1:${r.user_id}`).toString("base64url"));
  const randomPage = () =>
    `/v1/orgs/${large.org.id}/members?limit=50&cursor=${everyone[Math.floor(Math.random() * everyone.length)]}`;
  membersRows.push(await load("members page, 10,000 members, a random page each request (uncached)",
    randomPage(), { token, pathFor: randomPage }));
  rows.push(...membersRows);

  // The authorization check on another service's hot path: one resource and a batch of 100,
  // asked by a viewer whose group holds `edit` grants on half of them (so the answer comes
  // from the grants, read with the roles in one D1 batch).
  const authzOrg = (await http("POST", "/v1/orgs", { name: "bench authz" }, token)).body;
  const authzWs = (await http("POST", `/v1/orgs/${authzOrg.id}/workspaces`, { name: "Main" }, token)).body;
  const group = (await http("POST", `/v1/orgs/${authzOrg.id}/groups`, { name: "Operators" }, token)).body;
  const viewer = await w.activeUser();
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'viewer', 0)")
    .bind(authzOrg.id, viewer.user.id).run();
  await http("PUT", `/v1/orgs/${authzOrg.id}/groups/${group.id}/members/${viewer.user.id}`, undefined, token);
  for (let i = 0; i < 50; i++) {
    await http("PUT", `/v1/orgs/${authzOrg.id}/workspaces/${authzWs.id}/grants`,
      { principal: { type: "group", id: group.id }, resource: { type: "dashboard", id: `d-${i}` }, permission: "edit" }, token);
  }
  const hundred = Array.from({ length: 100 }, (_, i) => ({ type: "dashboard", id: `d-${i}` }));
  const authzRows = [
    await load("POST /v1/authz/check, one resource", "/v1/authz/check", {
      token: viewer.access_token, method: "POST",
      body: { workspace_id: authzWs.id, action: "edit", resource: { type: "dashboard", id: "d-7" } } }),
    await load("POST /v1/authz/check, batch of 100", "/v1/authz/check", {
      token: viewer.access_token, method: "POST", body: { workspace_id: authzWs.id, action: "edit", resources: hundred } }),
  ];
  // How services ask: with an API token of the org, about a user (the token and its org are
  // one indexed read, instead of the JWT verification plus the session read).
  const service = (await http("POST", `/v1/orgs/${authzOrg.id}/api-tokens`, { name: "bench service" }, token)).body;
  authzRows.push(
    await load("POST /v1/authz/check with an API token, one resource", "/v1/authz/check", {
      token: service.token, method: "POST",
      body: { user_id: viewer.user.id, workspace_id: authzWs.id, action: "edit", resource: { type: "dashboard", id: "d-7" } } }),
    await load("GET /v1/orgs/{org}/members with an API token", `/v1/orgs/${authzOrg.id}/members`, { token: service.token }),
  );
  rows.push(...authzRows);

  // Invitation create: every request needs a new email, so a small pool of its own instead of
  // autocannon; p50/p99 sequentially and at 16 in flight.
  const inviteOrg = (await http("POST", "/v1/orgs", { name: "bench invitations" }, token)).body;
  await w.db.prepare("UPDATE orgs SET member_limit = 1000000 WHERE id = ?").bind(inviteOrg.id).run();
  let invited = 0;
  async function invitePool(title, total, concurrency) {
    const latencies = [];
    let failed = 0;
    const started = performance.now();
    async function one() {
      while (latencies.length + failed < total) {
        const t = performance.now();
        const r = await http("POST", `/v1/orgs/${inviteOrg.id}/invitations`,
          { email: `bench-${invited++}-${inviteOrg.id.slice(-6)}@invitee.example`, role: "viewer", message: "Welcome aboard" }, token);
        if (r.status === 201) latencies.push(performance.now() - t); else failed++;
      }
    }
    await Promise.all(Array.from({ length: concurrency }, one));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1));
    return { title, path: "/v1/orgs/{org}/invitations", connections: concurrency, requests: total,
      rps: Math.round(total / seconds), p50_ms: pct(50), p99_ms: pct(99), non2xx: failed };
  }
  await invitePool("warm-up", 20, 1);
  const inviteRows = [
    await invitePool("POST /v1/orgs/{org}/invitations (sequential)", 200, 1),
    await invitePool("POST /v1/orgs/{org}/invitations", 800, 16),
  ];

  // The concurrency sweep (issue 7): each route at 1, 16 and 64 connections, next to the
  // trivial route and the one-read floor on the same server. Refresh and invitation create
  // need a new body per request, so they run on small pools of their own: each refresh
  // worker keeps one session and presents the token its previous refresh returned.
  async function pool(title, path, total, concurrency, request) {
    const latencies = [];
    let failed = 0;
    let issued = 0;
    const started = performance.now();
    async function worker(slot) {
      while (issued < total) {
        issued++;
        const t = performance.now();
        const ok = await request(slot);
        if (ok) latencies.push(performance.now() - t); else failed++;
      }
    }
    await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p) => Number((latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0).toFixed(1));
    return { title, path, connections: concurrency, requests: total,
      rps: Math.round(total / seconds), p50_ms: pct(50), p99_ms: pct(99), non2xx: failed };
  }
  const sweepOrg = small.org;
  const refreshTokens = [];
  for (let i = 0; i < 64; i++) {
    refreshTokens.push((await http("POST", "/v1/auth/login", { email: user.email, password: PASSWORD })).body.refresh_token);
  }
  const sweep = [];
  for (const c of [1, 16, 64]) {
    sweep.push(
      await load("GET /health", "/health", { connections: c }),
      await load("GET /health/ready", "/health/ready", { connections: c }),
      await load("GET /v1/me", "/v1/me", { token, connections: c }),
      await load("GET /v1/orgs/{org}/members (100 members, 50 rows)", `/v1/orgs/${sweepOrg.id}/members?limit=50`, { token, connections: c }),
      await load("POST /v1/authz/check", "/v1/authz/check", { token: viewer.access_token, method: "POST", connections: c,
        body: { workspace_id: authzWs.id, action: "edit", resource: { type: "dashboard", id: "d-7" } } }),
      await load("POST /v1/auth/login", "/v1/auth/login", { method: "POST", connections: c, amount: Math.max(30, 2 * c),
        body: { email: user.email, password: PASSWORD } }),
      await pool("POST /v1/auth/refresh", "/v1/auth/refresh", 200 * Math.min(c, 4), c, async (slot) => {
        const r = await http("POST", "/v1/auth/refresh", { refresh_token: refreshTokens[slot] });
        if (r.status !== 200) return false;
        refreshTokens[slot] = r.body.refresh_token;
        return true;
      }),
      await pool("POST /v1/orgs/{org}/invitations", "/v1/orgs/{org}/invitations", 200 * Math.min(c, 4), c, async () => {
        const r = await http("POST", `/v1/orgs/${inviteOrg.id}/invitations`,
          { email: `sweep-${invited++}-${inviteOrg.id.slice(-6)}@invitee.example`, role: "viewer" }, token);
        return r.status === 201;
      }),
    );
  }

  // The cron over 10,000 overdue invitations: seeded by one statement, then scheduled runs
  // until none is left; per run the workerd CPU, the wall time, and the rows written.
  const cronOrg = (await http("POST", "/v1/orgs", { name: "bench cron" }, token)).body;
  const overdueAt = Date.now() - 1000;
  await w.db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 10000)
     INSERT INTO invitations (id, org_id, email, role, status, created_at, expires_at, send_count, last_sent_at)
     SELECT printf('%s-0000-7000-8000-%012d', substr(?1, 1, 8), i), ?1, printf('overdue%d@bench.example', i),
            'viewer', 'pending', ?2, ?2, 1, ?2 FROM seq`).bind(cronOrg.id, overdueAt).run();
  const pendingLeft = async () => (await w.db.prepare(
    "SELECT COUNT(*) AS n FROM invitations WHERE org_id = ? AND status = 'pending'").bind(cronOrg.id).first()).n;
  const eventsWritten = async () => (await w.db.prepare(
    "SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'invitation.expired'").bind(cronOrg.id).first()).n;
  const cronRuns = [];
  for (let run = 1; (await pendingLeft()) > 0 && run <= 10; run++) {
    const [left, events, cpuBefore, t] = [await pendingLeft(), await eventsWritten(), workerdCpuSeconds(), performance.now()];
    await w.scheduled();
    const wall = performance.now() - t;
    const cpuMs = (workerdCpuSeconds() - cpuBefore) * 1000;
    const expired = left - (await pendingLeft());
    cronRuns.push({ run, expired, audit_events: (await eventsWritten()) - events, rows_written: expired + ((await eventsWritten()) - events),
      cpu_ms: Math.round(cpuMs), wall_ms: Math.round(wall) });
  }

  const results = { at: new Date().toISOString(), size, cpu, native, login, throughput: rows, invitations: inviteRows, sweep, cron: cronRuns };
  writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2));
  const f = (n) => (typeof n === "number" ? n.toFixed(1) : n);
  console.log(`\n## Size\n| wasm raw | wasm gzip |\n|---|---|\n| ${(size.raw_bytes / 1024).toFixed(0)} KiB | ${(size.gzip_bytes / 1024).toFixed(0)} KiB |`);
  console.log(`\n## CPU per request (workerd process, ms)\n| what | ms |\n|---|---|`);
  for (const [k, v] of Object.entries(cpu)) console.log(`| ${k} | ${f(v)} |`);
  for (const [k, v] of Object.entries(native)) console.log(`| native OpenSSL ${k} | ${f(v)} |`);
  console.log(`\n## Latency and throughput\n| route | conns | req/s | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|---|`);
  for (const r of [login, ...rows]) console.log(`| ${r.title} | ${r.connections} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.non2xx} |`);
  console.log(`\n## Invitation create\n| route | in flight | req/s | p50 ms | p99 ms | failed |\n|---|---|---|---|---|---|`);
  for (const r of inviteRows) console.log(`| ${r.title} | ${r.connections} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.non2xx} |`);
  console.log(`\n## Concurrency sweep\n| route | conns | req/s | p50 ms | p99 ms | failed |\n|---|---|---|---|---|---|`);
  for (const r of sweep) console.log(`| ${r.title} | ${r.connections} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.non2xx} |`);
  console.log(`\n## Cron over 10,000 overdue invitations\n| run | expired | invitation.expired events | D1 rows written | workerd CPU ms | wall ms |\n|---|---|---|---|---|---|`);
  for (const r of cronRuns) console.log(`| ${r.run} | ${r.expired} | ${r.audit_events} | ${r.rows_written} | ${r.cpu_ms} | ${r.wall_ms} |`);
  const floor = rows[1].rps;
  console.log(`\nGET /v1/me reaches ${((rows[2].rps / floor) * 100).toFixed(0)} % of the one-D1-read floor's requests/s.`);
  console.log(`Members page: 10,000 members first page at ${((rows[4].rps / rows[3].rps) * 100).toFixed(0)} % and deep page at ${((rows[5].rps / rows[3].rps) * 100).toFixed(0)} % of the 100-member org's requests/s.`);
  console.log(`Members page vs the floor: ${((rows[3].rps / floor) * 100).toFixed(0)} % (a page the isolate holds), ${((rows[6].rps / floor) * 100).toFixed(0)} % (a random page each request, uncached).`);
} finally {
  await w.dispose();
}
