// The console's pure functions, on Node (no browser): phone splitting and route matching.
import { test } from "node:test";
import assert from "node:assert/strict";
import { splitPhone } from "../console/src/phone.js";
import { match } from "../console/src/router.js";

test("splitPhone splits an E.164 number at its country calling code (a prefix code)", () => {
  for (const [number, parts] of [
    ["+14155552671", ["+1", "4155552671"]],
    ["+79161234567", ["+7", "9161234567"]],
    ["+491701234567", ["+49", "1701234567"]],
    ["+447700900123", ["+44", "7700900123"]],
    ["+8613812345678", ["+86", "13812345678"]],
    ["+35679123456", ["+356", "79123456"]],
    ["+2348031234567", ["+234", "8031234567"]],
    ["", ["", ""]],
    [null, ["", ""]],
    ["0301234567", ["", "0301234567"]],
  ]) {
    assert.deepEqual(splitPhone(number), parts, String(number));
    if (parts[0]) assert.equal(parts.join(""), number, "the parts join back into the number");
  }
});

test("match: a pattern's parameters, decoded; null when the path is another", () => {
  assert.deepEqual(match("/members/:user", "/members/abc"), { user: "abc" });
  assert.deepEqual(match("/members/:user", "/members/a%20b/"), { user: "a b" });
  assert.deepEqual(match("/members/new", "/members/new"), {});
  assert.equal(match("/members/:user", "/members"), null);
  assert.equal(match("/members/:user", "/members/x/y"), null);
  assert.equal(match("/workspaces/:ws/permissions", "/workspaces/x/users"), null);
  assert.deepEqual(match("/", "/"), {});
});
