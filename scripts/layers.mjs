// The crate's layers and what each may import (README "Layout"). `node scripts/layers.mjs`
// prints every import that runs against them; tests/layers.test.mjs runs it in `npm test`.
//
// A reference is `crate::<module>` (in a path or a `use crate::{…}` group), `$crate::<module>`
// inside a macro, or one of the crate's exported macros (`crate::row!` belongs to store).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** Lower layers first; each may import only the layers listed for it (and itself). */
export const ALLOWED = {
  domain: [],
  json: [],
  error: ["domain", "json"],
  config: ["domain", "error"],
  // Outbound calls for SSO (providers, DNS-over-HTTPS) and the platform's WebCrypto.
  idp: ["domain", "error", "json", "config"],
  store: ["domain", "error", "json"],
  mail: ["domain", "error", "json", "config", "store"],
  ops: ["domain", "error", "json", "config", "store", "mail"],
  jobs: ["domain", "error", "json", "config", "store", "mail", "ops", "idp"],
  http: ["domain", "error", "json", "config", "store", "mail"],
  api: ["domain", "error", "json", "config", "store", "mail", "ops", "http", "idp"],
  // The entry points compose everything.
  lib: ["domain", "error", "json", "config", "store", "mail", "ops", "jobs", "http", "api", "idp"],
};

/** Exported macros by the layer that defines them. */
const MACROS = { row: "store", args: "store", object: "json", routes: "http" };

/** The layer of a file under src/: its top-level module. */
export function layerOf(path) {
  const [first] = path.split("/");
  const name = first.replace(/\.rs$/, "");
  return name === "lib" ? "lib" : name;
}

/** The top-level modules a Rust source refers to through `crate::`. */
export function referencedModules(source) {
  const text = source.replace(/\/\/[^\n]*/g, ""); // comments may name anything
  const found = new Set();
  for (const m of text.matchAll(/\$?crate::([a-z_]+)(!)?/g)) {
    const [, name, bang] = m;
    if (bang) found.add(MACROS[name] ?? `unknown macro ${name}`);
    else if (name !== "") found.add(name);
  }
  // `use crate::{a::x, b}`: each top-level name of the group.
  for (const m of text.matchAll(/crate::\{/g)) {
    let depth = 0;
    let item = "";
    for (let i = m.index + "crate::".length; i < text.length; i++) {
      const c = text[i];
      if (c === "{") {
        depth++;
        if (depth === 1) continue;
      }
      if (c === "}") depth--;
      if (depth === 0) break;
      if (depth === 1 && c === ",") {
        item = "";
        continue;
      }
      item += c;
      const head = item.trim().match(/^([a-z_]+)(::|$)/);
      if (depth === 1 && head && head[2] === "::") found.add(head[1]);
      else if (depth === 1 && /^[a-z_]+$/.test(item.trim()) && /[\s,}]/.test(text[i + 1] ?? "")) {
        found.add(item.trim());
      }
    }
  }
  // A macro imported by name (`use crate::{args, row}`) is its defining layer.
  return new Set([...found].map((name) => MACROS[name] ?? name));
}

/** Every `(file, layer, imported layer)` that its layer may not import. */
export function violations(files) {
  const out = [];
  for (const { path, source } of files) {
    const layer = layerOf(path);
    const allowed = ALLOWED[layer];
    if (!allowed) {
      out.push({ path, layer, imports: "(a layer missing from scripts/layers.mjs)" });
      continue;
    }
    for (const module of referencedModules(source)) {
      if (module !== layer && !allowed.includes(module)) out.push({ path, layer, imports: module });
    }
  }
  return out;
}

/** The crate's source files, paths relative to src/. */
export function crateFiles(root = new URL("../src/", import.meta.url).pathname) {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith(".rs")) files.push({ path: relative(root, full), source: readFileSync(full, "utf8") });
    }
  };
  walk(root);
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = violations(crateFiles());
  for (const v of found) console.log(`${v.path}: ${v.layer} imports ${v.imports}`);
  process.exit(found.length === 0 ? 0 : 1);
}
