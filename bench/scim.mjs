// SCIM Users pages (`npm run bench`, or `node bench/scim.mjs` alone): an org with 100
// provisioned users and one with 10,000 (seeded in D1: users, memberships, the SCIM records),
// then for each `GET /scim/v2/Users?count=100` (the first page): the D1 rows it reads
// (server-timing) and requests/s, p50/p99 and workerd CPU at 16 connections; the same for an
// Entra-style `filter=userName eq "…"` on the big org; and, for the record, a page deep in
// the big org (`startIndex` is an OFFSET: it reads the rows it skips).
import autocannon from "autocannon";
import { startWorker } from "../tests/helpers.mjs";
import { workerdCpuSeconds } from "./fixtures.mjs";

const PORT = Number(process.env.BENCH_SCIM_PORT ?? 8796);
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);

/** `n` users provisioned by SCIM into `org`, in three statements. */
async function seed(db, org, n) {
  const tag = org.slice(-8);
  await db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
     INSERT INTO users (id, email, first_name, last_name, status, email_verified, created_by_org_id, created_at, updated_at)
     SELECT printf('%s-0000-7000-8000-%012d', ?2, i), printf('s%d-%s@bench.example', i, ?2),
            'Scim', printf('N%d', i), 'active', 1, ?3, 0, 0 FROM seq`).bind(n, tag, org).run();
  await db.prepare(
    `INSERT INTO org_members (org_id, user_id, role, joined_at)
     SELECT ?1, id, 'viewer', 0 FROM users WHERE created_by_org_id = ?1`).bind(org).run();
  await db.prepare(
    `INSERT INTO scim_users (org_id, user_id, user_name, user_name_key, external_id, given_name, family_name,
       emails, created_at, updated_at)
     SELECT ?1, id, email, email, 'ext-' || id, first_name, last_name,
       json_array(json_object('value', email, 'type', 'work', 'primary', json('true'))), 0, 0
     FROM users WHERE created_by_org_id = ?1`).bind(org).run();
}

function rowsRead(res) {
  return Number(res.headers.get("server-timing")?.match(/(\d+) read/)?.[1] ?? NaN);
}

async function load(url, token) {
  const before = workerdCpuSeconds();
  const r = await autocannon({ url, headers: { authorization: `Bearer ${token}` }, connections: 16, duration: DURATION });
  return {
    rps: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99,
    non2xx: r.non2xx + r.errors, cpu_us: Math.round(((workerdCpuSeconds() - before) * 1e6) / r.requests.total),
  };
}

export async function scimFigures() {
  const w = await startWorker({ port: PORT, onLog: () => {} });
  try {
    const orgs = [];
    for (const n of [100, 10_000]) {
      const owner = await w.activeUser();
      const org = owner.organization.id;
      await seed(w.db, org, n);
      const t = await w.post(`/v1/orgs/${org}/scim-tokens`, { name: "bench" }, { token: owner.access_token });
      orgs.push({ n, org, token: t.body.token });
    }
    const base = `http://127.0.0.1:${PORT}/scim/v2`;
    const probe = async (token, path) => {
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.json();
      return { status: res.status, rows_read: rowsRead(res), total: body.totalResults, items: body.Resources?.length ?? 0 };
    };
    const rows = [];
    for (const { n, token } of orgs) {
      const first = await probe(token, "/Users?count=100");
      rows.push({ what: `Users page (count=100), org of ${n.toLocaleString("en")}`, ...first, ...(await load(`${base}/Users?count=100`, token)) });
    }
    const big = orgs[1];
    const name = encodeURIComponent('userName eq "s4321-' + big.org.slice(-8) + '@bench.example"');
    const filtered = await probe(big.token, `/Users?filter=${name}`);
    rows.push({ what: "filter userName eq, org of 10,000", ...filtered, ...(await load(`${base}/Users?filter=${name}`, big.token)) });
    const deep = await probe(big.token, "/Users?startIndex=9901&count=100");
    rows.push({ what: "Users page at startIndex=9901, org of 10,000 (OFFSET)", ...deep, ...(await load(`${base}/Users?startIndex=9901&count=100`, big.token)) });
    return rows;
  } finally {
    await w.dispose();
  }
}

export function printScimFigures(rows) {
  console.log("\n## SCIM Users pages (16 connections)\n| request | items / totalResults | D1 rows read | req/s | p50 ms | p99 ms | workerd CPU µs | non-2xx |\n|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.what} | ${r.items} / ${r.total} | ${r.rows_read} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.cpu_us} | ${r.non2xx} |`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printScimFigures(await scimFigures());
}
