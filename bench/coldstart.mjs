// Cold starts: a fresh isolate to its first 200, for the service's `GET /health` and
// `GET /v1/me` and for the bare Worker (bench/floor). Each sample starts a new Miniflare
// instance (so a new workerd process: the module is compiled and its top level, which
// instantiates the wasm, runs) and times, in wall time,
//  - start-up: `new Miniflare(…)` until it is ready (workerd's start, the Worker's compile
//    and top level; mostly workerd's own start, the same for every Worker);
//  - first request: the dispatch of the first request on that fresh isolate until its
//    response is read (V8 compiles wasm functions lazily, on their first call, so this
//    is where the code a route touches is compiled; /v1/me also reads its signing key
//    from KV and opens D1 for the first time);
//  - second request: the same again, warm, for contrast.
// The service's D1 and KV are kept in a temporary directory, so every instance finds the
// account and session of one access token made once beforehand.
// `npm run bench` runs it; alone: `node bench/coldstart.mjs [samples]` (default 7).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker, PASSWORD } from "../tests/helpers.mjs";
import { ensureFloorBuilt, startFloor } from "./fixtures.mjs";

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median start-up, first and second request wall ms over `samples` fresh instances. */
export async function coldStarts(samples = 7) {
  ensureFloorBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), "ums-cold-"));
  try {
    const quiet = () => {}; // the Worker's log lines
    const setup = await startWorker({ persistTo: dir, onLog: quiet });
    const user = await setup.activeUser();
    const token = (await setup.post("/v1/auth/login", { email: user.email, password: PASSWORD })).body.access_token;
    await setup.dispose();

    const cases = [
      { title: "bare workers-rs Worker, GET /", start: () => startFloor(), path: "/" },
      { title: "service, GET /health", start: async () => (await startWorker({ persistTo: dir, migrate: false, onLog: quiet })).mf, path: "/health" },
      { title: "service, GET /v1/me", start: async () => (await startWorker({ persistTo: dir, migrate: false, onLog: quiet })).mf, path: "/v1/me",
        headers: { authorization: `Bearer ${token}` } },
    ];
    const times = cases.map(() => ({ startup: [], first: [], second: [] }));
    // Interleaved, so a disturbance of the machine falls on every case alike.
    for (let i = 0; i < samples; i++) {
      for (const [k, c] of cases.entries()) {
        const t0 = performance.now();
        const mf = await c.start();
        const t1 = performance.now();
        try {
          const request = async () => {
            const r = await mf.dispatchFetch(`http://localhost${c.path}`, { headers: c.headers ?? {} });
            const body = await r.text();
            if (r.status !== 200) throw new Error(`${c.title}: ${r.status} ${body}`);
          };
          await request();
          const t2 = performance.now();
          await request();
          const t3 = performance.now();
          times[k].startup.push(t1 - t0);
          times[k].first.push(t2 - t1);
          times[k].second.push(t3 - t2);
        } finally {
          await mf.dispose();
        }
      }
    }
    return cases.map((c, k) => ({
      title: c.title, samples,
      startup_ms: median(times[k].startup), first_request_ms: median(times[k].first), second_request_ms: median(times[k].second),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printColdStarts(rows) {
  console.log(`\n## Cold start (fresh isolate, median of ${rows[0].samples}, wall ms)\n` +
    "| Worker, route | start-up (new Miniflare → ready) | first request on the fresh isolate | second request |\n|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.title} | ${r.startup_ms.toFixed(0)} | ${r.first_request_ms.toFixed(1)} | ${r.second_request_ms.toFixed(1)} |`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printColdStarts(await coldStarts(Number(process.argv[2] ?? 7)));
}
