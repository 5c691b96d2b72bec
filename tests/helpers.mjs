// Shared fixture for the end-to-end tests: the real Worker (build/index.js + wasm) in
// Miniflare with local D1 (migrations applied), KV and Queues, plus small request helpers.
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { parse as parseToml } from "smol-toml";
import assert from "node:assert/strict";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** wrangler.toml, parsed: the tests run the Worker with the settings `wrangler dev` uses. */
const wrangler = parseToml(readFileSync(path.join(root, "wrangler.toml"), "utf8"));

function wranglerVars() {
  return { ...wrangler.vars };
}

/**
 * wrangler.toml's [assets] as Miniflare takes them: the built console in front of the
 * Worker, which runs first only for `run_worker_first`'s paths, as deployed.
 */
export function wranglerAssets() {
  const a = wrangler.assets;
  return {
    directory: path.join(root, a.directory),
    run_worker_first: a.run_worker_first,
    routerConfig: { has_user_worker: true },
    assetConfig: { not_found_handling: a.not_found_handling },
  };
}

/** The SQL of every migration, in order, split into statements. */
function migrations() {
  const dir = path.join(root, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      joinTriggers(
        readFileSync(path.join(dir, f), "utf8")
          .split("\n")
          .map((l) => l.replace(/--.*$/, "")) // comments first: they may contain ';'
          .join("\n")
          .split(";")
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    );
}

/** A trigger's body holds statements of its own: `CREATE TRIGGER … BEGIN …; END` is one. */
function joinTriggers(pieces) {
  const out = [];
  let trigger = null;
  for (const piece of pieces) {
    if (trigger !== null) {
      trigger += `;\n${piece}`;
      if (/^END$/i.test(piece)) {
        out.push(trigger);
        trigger = null;
      }
    } else if (/^CREATE\s+TRIGGER\b/i.test(piece)) {
      trigger = piece;
    } else {
      out.push(piece);
    }
  }
  if (trigger !== null) throw new Error(`unterminated trigger: ${trigger}`);
  return out;
}

/**
 * Starts the Worker. `vars` override wrangler.toml's [vars]; `outbound` (optional) answers
 * the Worker's own fetches (the HTTP email provider); `onLog` (optional) receives each line
 * the runtime logs, `{timestamp, level, message}`, instead of the console. A second tiny
 * worker consumes the dead-letter queue into the DLQ_SINK KV namespace so tests can see what
 * landed there. `persistTo` (a directory) keeps D1 and KV there instead of in memory, so a
 * later instance (the benchmark's cold starts) finds the same data; `migrate: false` skips
 * the migrations for such a directory that already has them.
 */
export async function startWorker({ vars = {}, outbound, port, inspectorPort, onLog, persistTo, migrate = true } = {}) {
  // Miniflare 5 takes a new option shape; the v4 shape (as in workers-rs' own tests) converts.
  const mf = new Miniflare(convertV4MiniflareOptions({
    ...(persistTo ? { resourcePersistencePath: persistTo } : {}),
    // The benchmark serves over real HTTP; tests use dispatchFetch and need no port.
    ...(port ? { host: "127.0.0.1", port } : {}),
    // The CPU profiler (bench/profile.mjs) attaches to the Worker through this port.
    ...(inspectorPort ? { inspectorPort } : {}),
    ...(onLog ? { handleStructuredLogs: onLog } : {}),
    workers: [
      {
        name: "ums",
        ...(inspectorPort ? { unsafeInspectorProxy: true } : {}),
        modulesRoot: path.join(root, "build"),
        modules: [
          { type: "ESModule", path: path.join(root, "build/index.js") },
          { type: "CompiledWasm", path: path.join(root, "build/index_bg.wasm") },
        ],
        compatibilityDate: "2026-11-01",
        d1Databases: { DB: "ums-test-db" },
        kvNamespaces: ["KV"],
        queueProducers: { MAIL_QUEUE: "mail", MAIL_DLQ: "mail-dlq" },
        queueConsumers: { mail: { maxBatchTimeout: 0.05, maxRetries: 20 } },
        bindings: {
          ...wranglerVars(),
          RATE_LIMIT_PER_IP: "100000",
          RATE_LIMIT_PER_ACCOUNT: "100000",
          MAIL_RETRY_BASE_SECONDS: "0",
          ...vars,
        },
        outboundService: outbound,
        assets: wranglerAssets(),
      },
      {
        name: "dlq-sink",
        modules: true,
        script: `export default {
          async queue(batch, env) {
            for (const m of batch.messages) { await env.DLQ_SINK.put(JSON.parse(m.body).id, m.body); m.ack(); }
          }
        }`,
        kvNamespaces: ["DLQ_SINK"],
        queueConsumers: { "mail-dlq": { maxBatchTimeout: 0.05 } },
      },
    ],
  }));
  await mf.ready;
  const db = await mf.getD1Database("DB", "ums");
  if (migrate) for (const sql of migrations()) await db.prepare(sql).run();
  return new Client(mf, db);
}

let ipCounter = 1;
/** A fresh client IP per call, so rate-limit buckets of different tests never meet. */
export function freshIp() {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

let emailCounter = 0;
export function freshEmail(prefix = "user") {
  emailCounter += 1;
  return `${prefix}-${process.pid}-${emailCounter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export const PASSWORD = "correct horse battery staple";

export class Client {
  constructor(mf, db) {
    this.mf = mf;
    this.db = db;
  }

  async dispose() {
    await this.mf.dispose();
  }

  /** One request; returns {status, headers, body (parsed JSON or text or null)}. */
  /** `manual`: answer a redirect as it is (the SSO routes) instead of following it. */
  async request(method, path, { body, token, headers = {}, ip, raw, manual } = {}) {
    const h = { "cf-connecting-ip": ip ?? "192.0.2.1", ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
    const res = await this.mf.dispatchFetch(`http://localhost${path}`, {
      method, headers: h, body: payload, ...(manual ? { redirect: "manual" } : {}),
    });
    const text = await res.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  get(path, opts) { return this.request("GET", path, opts); }
  post(path, body, opts = {}) { return this.request("POST", path, { ...opts, body }); }
  patch(path, body, opts = {}) { return this.request("PATCH", path, { ...opts, body }); }
  del(path, opts) { return this.request("DELETE", path, opts); }

  async scheduled(cron = "* * * * *") {
    const worker = await this.mf.getWorker("ums");
    return worker.scheduled({ cron });
  }

  /** Rows of a read-only query, to assert on what is stored. */
  async rows(sql, ...params) {
    return (await this.db.prepare(sql).bind(...params).all()).results;
  }

  async one(sql, ...params) {
    return (await this.rows(sql, ...params))[0];
  }

  /** Waits until `fn` returns a truthy value (polling; no fixed sleeps). */
  /**
   * Walks a keyset-paginated list with `limit` per page and returns every item in order,
   * asserting that no page is over `limit` and that every page but the last is full.
   */
  async walk(path, token, limit = 2) {
    const seen = [];
    let cursor = null;
    const sep = path.includes("?") ? "&" : "?";
    for (let i = 0; i < 100; i++) {
      const r = await this.get(
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.data.length <= limit, `page of ${r.body.data.length} > limit ${limit}`);
      seen.push(...r.body.data);
      if (!r.body.next_cursor) return seen;
      assert.equal(r.body.data.length, limit, "a page followed by another is full");
      cursor = r.body.next_cursor;
    }
    throw new Error(`pagination of ${path} did not end`);
  }

  async until(fn, { timeout = 10000, what = "condition" } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The newest dev-mailbox message to `to` whose subject matches, once delivered. */
  async mail(to, subjectPattern = /./) {
    return this.until(async () => {
      const r = await this.get(`/v1/dev/mailbox?to=${encodeURIComponent(to)}`);
      return r.body?.data?.find((m) => subjectPattern.test(m.subject));
    }, { what: `mail to ${to} matching ${subjectPattern}` });
  }

  /** The token in the newest matching mail's link. */
  async mailToken(to, subjectPattern) {
    const m = await this.mail(to, subjectPattern);
    const token = m.text.match(/token=([A-Za-z0-9_-]{43})/)?.[1];
    assert.ok(token, `no token in mail: ${m.text}`);
    return token;
  }

  /** Signs up; returns the 201 body plus the email. */
  async signup({ email = freshEmail(), password = PASSWORD, ip } = {}) {
    const r = await this.post("/v1/auth/signup", {
      email, password, first_name: "Ada", last_name: "Lovelace",
      organization: { name: "Analytical Engines" }, workspace: { name: "Main" },
    }, { ip });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { ...r.body, email, password };
  }

  /** Signs up and activates through the emailed link; returns tokens and the email. */
  async activeUser(opts = {}) {
    const s = await this.signup(opts);
    const token = await this.mailToken(s.email, /Activate/);
    const r = await this.post("/v1/auth/activate", { token }, { ip: opts.ip });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return { ...s, ...r.body };
  }

  /**
   * Puts `user` into `org` with `role` directly in D1 (fixtures); a `member` also gets
   * viewer access to workspace `ws`, since a member exists only through workspaces.
   */
  async joinOrg(user, org, role, ws) {
    await this.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
      .bind(org, user.user.id, role, Date.now()).run();
    if (role === "member") {
      await this.db.prepare("INSERT INTO workspace_members (workspace_id, user_id, org_id, role, added_at) VALUES (?, ?, ?, 'viewer', ?)")
        .bind(ws, user.user.id, org, Date.now()).run();
    }
  }

  /**
   * An org with one active user per role: the owner's (from signup) with admin, editor,
   * viewer and member (viewer in the owner's first workspace) joined, plus an outsider of
   * another org. Returns the users and `orgId`, `wsId`.
   */
  async orgRoster() {
    const [owner, admin, editor, viewer, member, outsider] = await Promise.all(
      Array.from({ length: 6 }, () => this.activeUser()),
    );
    const orgId = owner.organization.id;
    const wsId = owner.workspace.id;
    for (const [user, role] of [[admin, "admin"], [editor, "editor"], [viewer, "viewer"], [member, "member"]]) {
      await this.joinOrg(user, orgId, role, wsId);
    }
    return { owner, admin, editor, viewer, member, outsider, orgId, wsId };
  }

  login(email, password = PASSWORD, ip) {
    return this.post("/v1/auth/login", { email, password }, { ip });
  }
}

/**
 * A scripted HTTP email provider for `startWorker({outbound})`: records every call
 * ({method, url, headers, body, to}) and answers per recipient from `behaviour`
 * (recipient → (attempt number, 1-based) => Response); 200 for anyone else.
 */
export function scriptedProvider() {
  const calls = [];
  const behaviour = new Map();
  const callsTo = (to) => calls.filter((c) => c.to === to);
  async function fetch(req) {
    const text = await req.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    const to = Array.isArray(body?.to) ? body.to[0] : body?.to;
    calls.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body, to });
    const script = behaviour.get(to);
    if (script) return script(callsTo(to).length);
    return new Response(JSON.stringify({ id: "provider-msg" }), { status: 200 });
  }
  return { calls, behaviour, callsTo, fetch };
}

/** Asserts a problem+json error with the given status and code. */
export function assertProblem(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
  assert.equal(res.body.code, code, JSON.stringify(res.body));
  assert.equal(res.body.status, status);
  assert.ok(res.body.title && res.body.type && res.body.detail);
  assert.ok(res.headers.get("x-request-id"));
}
