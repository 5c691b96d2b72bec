// Shared by the benchmark (bench/run.mjs, bench/coldstart.mjs) and the profiler (bench/profile.mjs).
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync, execSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

/** `http(method, path, body?, token?)` against `base`: `{status, body}` (body parsed JSON). */
export function httpClient(base) {
  return async function http(method, path, body, token) {
    const headers = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

/**
 * `n` active users made viewers of `orgId`, seeded in D1 by two statements (the API would
 * take minutes for 10,000). Emails are `m<i>-<tag>@bench.example`, `tag` being the org id's
 * random tail, so two orgs made in one millisecond never collide.
 */
export async function seedMembers(db, orgId, n) {
  const tag = orgId.slice(-8);
  await db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
     INSERT INTO users (id, email, first_name, last_name, status, created_at, updated_at)
     SELECT printf('%s-0000-7000-8000-%012d', ?2, i), printf('m%d-%s@bench.example', i, ?2),
            'Member', printf('N%d', i), 'active', 0, 0 FROM seq`).bind(n, tag).run();
  await db.prepare(
    `INSERT INTO org_members (org_id, user_id, role, joined_at)
     SELECT ?1, id, 'viewer', 0 FROM users WHERE email LIKE ?2`).bind(orgId, `%-${tag}@bench.example`).run();
}

const floorDir = new URL("./floor/", import.meta.url);

/**
 * The floor's build (bench/floor, a bare workers-rs Worker), made by scripts/worker-build.sh
 * with the service's toolchain and flags when it is missing or older than its sources;
 * quick when it is there.
 */
export function ensureFloorBuilt() {
  const wasm = fileURLToPath(new URL("build/index_bg.wasm", floorDir));
  const sources = ["src/lib.rs", "Cargo.toml", "Cargo.lock", "../../scripts/worker-build.sh", "../../scripts/toolchain.sh"]
    .map((f) => statSync(fileURLToPath(new URL(f, floorDir))).mtimeMs);
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= Math.max(...sources)) return;
  console.error("Building the floor Worker (bench/floor) …");
  execFileSync("bash", [fileURLToPath(new URL("../scripts/worker-build.sh", import.meta.url)), fileURLToPath(floorDir)],
    { stdio: ["ignore", "inherit", "inherit"] });
}

/**
 * The floor Worker in Miniflare, alone (no bindings), on `port` if given; `inspectorPort`
 * for the CPU profiler (bench/profile.mjs). `assetRouter`: behind Miniflare's static-asset
 * router, as a Worker with `[assets]` and `run_worker_first` is (an empty asset directory;
 * the same pattern-list form of `run_worker_first` as wrangler.toml's): what that
 * configuration alone costs per request, the floor of the service as it is now served.
 */
export async function startFloor({ port, inspectorPort, assetRouter } = {}) {
  const build = fileURLToPath(new URL("build/", floorDir));
  // The v4 option shape, converted, as tests/helpers.mjs does.
  const mf = new Miniflare(convertV4MiniflareOptions({
    ...(port ? { host: "127.0.0.1", port } : {}),
    ...(inspectorPort ? { inspectorPort } : {}),
    // Its only log line is `/logged`'s, thousands a second under load: dropped on arrival.
    handleStructuredLogs: () => {},
    workers: [{
      name: "floor",
      ...(inspectorPort ? { unsafeInspectorProxy: true } : {}),
      modulesRoot: build,
      modules: [
        { type: "ESModule", path: path.join(build, "index.js") },
        { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
      ],
      // The service's (wrangler.toml), so both run on the same runtime behaviour.
      compatibilityDate: "2026-11-01",
      ...(assetRouter ? { assets: { directory: mkdtempSync(path.join(tmpdir(), "floor-assets-")),
        run_worker_first: ["/", "/logged"], routerConfig: { has_user_worker: true } } } : {}),
    }],
  }));
  await mf.ready;
  return mf;
}

const ticksPerSecond = Number(execSync("getconf CLK_TCK").toString().trim());

/**
 * CPU seconds (user + system) of the workerd processes this benchmark started (its
 * descendants: other builds and tests on the machine run workerd too).
 */
export function workerdCpuSeconds() {
  const procs = new Map();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      const workerd = readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd");
      // ppid, utime, stime
      procs.set(Number(pid), { ppid: Number(fields[1]), workerd, cpu: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond });
    } catch {}
  }
  const ours = (pid) => {
    for (let p = procs.get(pid)?.ppid; p > 1; p = procs.get(p)?.ppid) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, p] of procs) if (p.workerd && ours(pid)) total += p.cpu;
  return total;
}
