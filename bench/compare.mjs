// Side-by-side comparison of builds (`node bench/compare.mjs <variants.json> [rounds]`): each
// variant is a build directory served by its own Miniflare instance with the service's
// bindings (D1, KV, queue producers, wrangler.toml's vars; `assets: true` puts Miniflare's
// static-asset router in front, serving `<build>/assets`), and a path (default `/health`).
// The variants are driven in turn at 16 connections for BENCH_SECONDS (default 3) each, for
// `rounds` rounds (default 6), and the workerd CPU per request of each run is printed with
// the median and minimum per variant. Copy `build/` aside before changing the code to compare
// the two builds in one run, e.g.:
//   node bench/compare.mjs '[{"label":"bare","build":"bench/floor/build","path":"/"},
//     {"label":"before","build":"/tmp/build-before"},{"label":"after","build":"build"}]'
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { workerdCpuSeconds } from "./fixtures.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const vars = {};
const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
for (const line of toml.split(/^\[vars\]\s*$/m)[1].split(/^\[/m)[0].split("\n")) {
  const m = line.match(/^([A-Z0-9_]+)\s*=\s*"(.*)"\s*$/);
  if (m) vars[m[1]] = m[2];
}
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const variants = JSON.parse(process.argv[2]);
const rounds = Number(process.argv[3] ?? 6);

const servers = new Map();
const key = (v) => `${v.build}|${v.assets ? 1 : 0}`;
let port = 8770;
for (const v of variants) {
  if (servers.has(key(v))) continue;
  const build = path.resolve(root, v.build);
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: "127.0.0.1", port, handleStructuredLogs: () => {},
    workers: [{
      name: "w", modulesRoot: build, compatibilityDate: "2026-11-01",
      modules: [
        { type: "ESModule", path: path.join(build, "index.js") },
        { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
      ],
      ...(v.assets ? { assets: { directory: path.join(build, "assets"), binding: "ASSETS",
        routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } } } : {}),
      d1Databases: { DB: "db" }, kvNamespaces: ["KV"], queueProducers: { MAIL_QUEUE: "mail", MAIL_DLQ: "mail-dlq" },
      bindings: vars,
    }],
  }));
  await mf.ready;
  servers.set(key(v), { mf, port: port++ });
}

async function run(v) {
  const before = workerdCpuSeconds();
  const r = await autocannon({ url: `http://127.0.0.1:${servers.get(key(v)).port}${v.path ?? "/health"}`, connections: 16, duration: seconds });
  return { us: ((workerdCpuSeconds() - before) * 1e6) / r.requests.total, failed: r.non2xx + r.errors };
}

try {
  for (const v of variants) await run(v); // warm
  const runs = variants.map(() => []);
  for (let i = 0; i < rounds; i++) for (const [k, v] of variants.entries()) runs[k].push(await run(v));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log("| variant | median µs | min µs | runs (workerd CPU µs/request) | failed |\n|---|---|---|---|---|");
  for (const [k, v] of variants.entries()) {
    const us = runs[k].map((r) => r.us);
    console.log(`| ${v.label ?? v.build} | ${median(us).toFixed(0)} | ${Math.min(...us).toFixed(0)} | ` +
      `${us.map((x) => x.toFixed(0)).join(" ")} | ${runs[k].reduce((a, r) => a + r.failed, 0)} |`);
  }
} finally {
  for (const s of servers.values()) await s.mf.dispose();
}
