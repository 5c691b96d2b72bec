// A tiny DNS-over-HTTPS JSON responder on loopback (the Google/Cloudflare `application/dns-json`
// format) for the domain-verification tests: start the Worker with
// `DNS_RESOLVER_URL: doh.url`. TXT records are set and removed by the test; `fail()` makes
// the resolver answer HTTP 500 (or another status) until `fail(false)`.
import http from "node:http";

const norm = (name) => String(name).toLowerCase().replace(/\.$/, "");

/** A TXT string as DNS JSON writes it: in double quotes, `"` and `\` escaped. */
const quote = (s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/**
 * Starts the responder on 127.0.0.1 on a free port. Returns `{url, requests, set(name,
 * ...records), add(name, record), remove(name), fail(status = 500 | false), close()}`.
 * A record is a string, or an array of strings (one TXT record made of several character
 * strings, which a resolver concatenates). Unknown names answer `Status: 3` (NXDOMAIN); a
 * known name asked for another type answers `Status: 0` with no Answer (NODATA).
 * `requests` logs `{name, type, accept, url}` of every lookup.
 */
export async function startDoh() {
  const records = new Map(); // name → [record]
  const requests = [];
  let failure = false;

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x");
    const name = u.searchParams.get("name") ?? "";
    const type = u.searchParams.get("type") ?? "A";
    requests.push({ name, type, accept: req.headers.accept, url: req.url, method: req.method });
    if (failure) {
      res.writeHead(failure, { "content-type": "text/plain" });
      res.end("resolver failure (simulated)");
      return;
    }
    if (u.pathname !== "/dns-query" || !name) {
      res.writeHead(400, { "content-type": "application/dns-json" });
      res.end(JSON.stringify({ Status: 1, Comment: "missing name" }));
      return;
    }
    const key = norm(name);
    const isTxt = type === "16" || type.toUpperCase() === "TXT";
    const body = {
      Status: records.has(key) ? 0 : 3,
      TC: false, RD: true, RA: true, AD: false, CD: false,
      Question: [{ name: `${key}.`, type: isTxt ? 16 : Number(type) || 1 }],
    };
    if (records.has(key) && isTxt) {
      body.Answer = records.get(key).map((r) => ({
        name: `${key}.`,
        type: 16,
        TTL: 60,
        data: (Array.isArray(r) ? r : [r]).map(quote).join(" "),
      }));
    }
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    requests,
    /** Replaces the TXT records of `name` (none given: the name exists with no TXT). */
    set(name, ...recs) { records.set(norm(name), recs); },
    add(name, rec) { records.set(norm(name), [...(records.get(norm(name)) ?? []), rec]); },
    remove(name) { records.delete(norm(name)); },
    /** `fail()` → HTTP 500 from now on; `fail(502)` another status; `fail(false)` heals. */
    fail(status = 500) { failure = status; },
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
