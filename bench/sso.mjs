// The SSO callback's cost (`npm run bench`): a Worker of its own whose provider and DNS
// resolver are answered in-process (tests/support/outbound-idp.mjs, outside workerd, so
// their CPU is not counted), an org with a verified domain and an active connection, then
// sequential sign-ins: the callback's D1 round trips and rows (server-timing) and workerd CPU
// per callback, for a person provisioned just in time and for a returning one; the start and
// the exchange beside them, and a password login for scale.
import { startWorker, PASSWORD } from "../tests/helpers.mjs";
import { outboundIdp, ISSUER, CLIENT_ID, CLIENT_SECRET } from "../tests/support/outbound-idp.mjs";
import { workerdCpuSeconds } from "./fixtures.mjs";

function timing(res) {
  const h = res.headers.get("server-timing") ?? "";
  const n = (re) => Number(h.match(re)?.[1] ?? NaN);
  return { round_trips: n(/(\d+) round trips/), rows_read: n(/(\d+) read/), rows_written: n(/(\d+) written/) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function ssoFigures(samples = 50) {
  const idp = await outboundIdp();
  const w = await startWorker({
    outbound: idp.outbound,
    onLog: () => {},
    vars: { DNS_RESOLVER_URL: "https://dns.example.test/dns-query", RATE_LIMIT_PER_IP: "1000000" },
  });
  try {
    const owner = await w.activeUser();
    const T = { token: owner.access_token };
    const O = `/v1/orgs/${owner.organization.id}`;
    await w.db.prepare("UPDATE orgs SET member_limit = 100000 WHERE id = ?").bind(owner.organization.id).run();
    const dom = (await w.post(`${O}/domains`, { domain: "bench.example.test" }, T)).body;
    idp.txt.set(dom.verification.name, [dom.verification.value]);
    await w.post(`${O}/domains/${dom.id}/verify`, undefined, T);
    const conn = (await w.post(`${O}/sso-connections`, {
      issuer: ISSUER, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, default_role: "viewer", jit: true,
    }, T)).body;
    const test = (await w.post(`${O}/sso-connections/${conn.id}/test`, undefined, T)).body;
    const u = new URL(test.authorize_url);
    await idp.signIn(w, u.pathname + u.search, { sub: "bench-admin", email: "admin@bench.example.test", email_verified: true });
    await w.patch(`${O}/sso-connections/${conn.id}`, { status: "active" }, T);

    // One sign-in, measured step by step (the provider's part is in-process and not counted).
    const get = (path, headers = {}) => w.request("GET", path, { headers, manual: true, ip: "198.51.100.7" });
    const signIn = async (sub) => {
      const claims = { sub, email: `${sub}@bench.example.test`, email_verified: true, given_name: "B", family_name: sub };
      let cpu = workerdCpuSeconds();
      const start = await get(`/v1/auth/sso/start?connection=${conn.id}`);
      const startCpu = workerdCpuSeconds() - cpu;
      const to = new URL(start.headers.get("location"));
      const code = `c-${sub}-${Math.random()}`;
      idp.grant(code, { challenge: to.searchParams.get("code_challenge"), nonce: to.searchParams.get("nonce"), claims });
      cpu = workerdCpuSeconds();
      const t = performance.now();
      const back = await get(`/v1/auth/sso/callback?code=${code}&state=${to.searchParams.get("state")}&iss=${encodeURIComponent(ISSUER)}`,
        { cookie: start.headers.get("set-cookie").split(";")[0] });
      const callbackMs = performance.now() - t;
      const callbackCpu = workerdCpuSeconds() - cpu;
      const one = new URL(back.headers.get("location")).searchParams.get("code");
      if (!one) throw new Error(`bench sign-in failed: ${back.headers.get("location")}`);
      cpu = workerdCpuSeconds();
      const ex = await w.request("POST", "/v1/auth/sso/exchange", { body: { code: one }, ip: "198.51.100.7" });
      const exchangeCpu = workerdCpuSeconds() - cpu;
      if (ex.status !== 200) throw new Error(`bench exchange failed: ${ex.status}`);
      return {
        start: { ...timing(start), cpu_ms: startCpu * 1000 },
        callback: { ...timing(back), cpu_ms: callbackCpu * 1000, wall_ms: callbackMs },
        exchange: { ...timing({ headers: { get: (n) => ex.headers.get(n) } }), cpu_ms: exchangeCpu * 1000 },
      };
    };
    await signIn("warm-up"); // the isolate's first sign-in also fetches the key set
    const firsts = [];
    const returning = [];
    for (let i = 0; i < samples; i++) firsts.push(await signIn(`p${i}`));
    for (let i = 0; i < samples; i++) returning.push(await signIn(`p${i}`));
    const logins = [];
    for (let i = 0; i < 5; i++) {
      const cpu = workerdCpuSeconds();
      const r = await w.request("POST", "/v1/auth/login", { body: { email: owner.email, password: PASSWORD }, ip: "198.51.100.8" });
      logins.push({ ...timing({ headers: { get: (n) => r.headers.get(n) } }), cpu_ms: (workerdCpuSeconds() - cpu) * 1000 });
    }
    const summary = (rows, step) => ({
      round_trips: median(rows.map((r) => r[step].round_trips)),
      rows_read: median(rows.map((r) => r[step].rows_read)),
      rows_written: median(rows.map((r) => r[step].rows_written)),
      // /proc counts CPU in 10 ms ticks: a mean over many calls, not a median of single ones.
      cpu_ms_mean: Number((rows.reduce((a, r) => a + r[step].cpu_ms, 0) / rows.length).toFixed(2)),
      ...(step === "callback" ? { wall_ms_median: Number(median(rows.map((r) => r.callback.wall_ms)).toFixed(1)) } : {}),
    });
    return {
      samples,
      provisioning: { start: summary(firsts, "start"), callback: summary(firsts, "callback"), exchange: summary(firsts, "exchange") },
      returning: { start: summary(returning, "start"), callback: summary(returning, "callback"), exchange: summary(returning, "exchange") },
      password_login: {
        round_trips: median(logins.map((l) => l.round_trips)),
        cpu_ms_mean: Number((logins.reduce((a, l) => a + l.cpu_ms, 0) / logins.length).toFixed(2)),
      },
    };
  } finally {
    await w.dispose();
  }
}

export function printSsoFigures(s) {
  console.log(`\n## SSO sign-in (sequential, ${s.samples} each; the provider answers in-process, its CPU not counted)\n` +
    "| step | D1 round trips | rows read | rows written | workerd CPU ms (mean) |\n|---|---|---|---|---|");
  for (const [who, steps] of [["new person (JIT)", s.provisioning], ["returning person", s.returning]]) {
    for (const step of ["start", "callback", "exchange"]) {
      const r = steps[step];
      console.log(`| ${who}: ${step} | ${r.round_trips} | ${r.rows_read} | ${r.rows_written} | ${r.cpu_ms_mean} |`);
    }
  }
  console.log(`| password login (for scale) | ${s.password_login.round_trips} | | | ${s.password_login.cpu_ms_mean} |`);
  console.log(`\nCallback wall time (median, local D1): ${s.provisioning.callback.wall_ms_median} ms provisioning, ${s.returning.callback.wall_ms_median} ms returning.`);
}

// `node bench/sso.mjs`: this section alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await ssoFigures(Number(process.env.BENCH_SSO_SAMPLES ?? 50));
  printSsoFigures(s);
  console.log(JSON.stringify(s, null, 2));
}
