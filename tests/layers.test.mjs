// The layering rule (README "Layout"): nothing in domain, store, mail or jobs imports http or
// api; http imports no handler; error and json sit below everything that uses them.
import test from "node:test";
import assert from "node:assert/strict";
import { ALLOWED, crateFiles, referencedModules, violations } from "../scripts/layers.mjs";

test("every source file imports only the layers below it", () => {
  const files = crateFiles();
  assert.ok(files.length > 50, `found only ${files.length} files`);
  assert.deepEqual(violations(files), []);
});

test("handlers reach the database only through the store handles the gate gives them", () => {
  // The raw `Db` opens any org's store; only the pipeline, the gate, the jobs and the entry
  // point hold one. (The compiler keeps handlers from reaching it: Ctx's db and env are
  // private; this names the rule so a future public accessor fails here too.)
  for (const { path, source } of crateFiles()) {
    if (!path.startsWith("api/")) continue;
    const code = source.replace(/\/\/[^\n]*/g, "");
    assert.ok(!/\bDb\b|OrgStore::open|Store::open/.test(code), `${path} names the raw database`);
  }
});

test("the rule forbids what the issue forbids", () => {
  for (const low of ["domain", "store", "mail", "jobs"]) {
    assert.ok(!ALLOWED[low].includes("http") && !ALLOWED[low].includes("api"), low);
  }
  assert.ok(!ALLOWED.http.includes("api"));
  assert.deepEqual(ALLOWED.domain, []);
});

test("the check sees paths, use groups, $crate and macros", () => {
  assert.deepEqual(
    [...referencedModules(`use crate::{error::{ApiError, ApiResult}, store::{self, Db}, json};
      fn f() { crate::http::Ctx::x(); $crate::api::views::user(); crate::row! {} }
      // crate::jobs is only named in a comment`)].sort(),
    ["api", "error", "http", "json", "store"],
  );
  assert.deepEqual([...referencedModules("use crate::{args, row};")], ["store"]);
  assert.deepEqual(
    violations([
      { path: "store/users.rs", source: "use crate::http::Ctx;\nuse crate::domain::ids::UserId;" },
      { path: "http/mod.rs", source: "use crate::api;" },
      { path: "mail/mod.rs", source: "use crate::{store::Db, api::views};" },
      { path: "api/me.rs", source: "use crate::{http::Ctx, store, mail};" },
      { path: "newlayer/x.rs", source: "" },
    ]).map((v) => `${v.path} ${v.imports}`),
    [
      "store/users.rs http",
      "http/mod.rs api",
      "mail/mod.rs api",
      "newlayer/x.rs (a layer missing from scripts/layers.mjs)",
    ],
  );
});
