// Shared by the benchmark (bench/run.mjs) and the profiler (bench/profile.mjs).

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
