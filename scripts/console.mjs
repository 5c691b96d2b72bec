// Builds the web console into build/console, the Worker's static assets (wrangler.toml
// [assets]): esbuild bundles console/src/main.js (Preact + htm, no JSX step) and
// console/style.css into content-hashed files under /assets/, so they can be cached for
// good; index.html names them and is revalidated on every load; _headers carries the
// security headers of every page (CSP, framing, referrer). Prints the first load's size.
// Usage: node scripts/console.mjs [--quiet]
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "console");
const out = path.join(root, "build/console");

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: path.join(src, "src/main.js"), style: path.join(src, "style.css") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  // Each screen's code is its own file, loaded when the screen is first opened
  // (console/src/lazy.js); code shared by several screens goes to shared chunks.
  splitting: true,
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const outputs = result.metafile.outputs;
const emitted = Object.keys(outputs).map((f) => path.resolve(root, f));
// The entry points' files (not the chunks loaded later): the app's script and stylesheet.
const entry = (name, ext) => {
  const file = Object.keys(outputs).find((f) => path.basename(f).startsWith(`${name}-`) && f.endsWith(ext) && outputs[f].entryPoint);
  if (!file) throw new Error(`esbuild emitted no ${name}*${ext}`);
  return path.resolve(root, file);
};
const appJs = entry("app", ".js");
const appCss = entry("style", ".css");
const named = (file) => `/assets/${path.basename(file)}`;
const html = readFileSync(path.join(src, "index.html"), "utf8")
  .replace("%APP_JS%", named(appJs))
  .replace("%APP_CSS%", named(appCss));
writeFileSync(path.join(out, "index.html"), html);
copyFileSync(path.join(src, "_headers"), path.join(out, "_headers"));
copyFileSync(path.join(src, "favicon.svg"), path.join(out, "favicon.svg"));
// The OpenAPI document is a static file of the same origin: it never enters the wasm (the
// static-asset router fronts every request anyway since the console), ~59 KB gzip less to
// load on a cold start. src/api/platform.rs's test holds it equal to the router.
copyFileSync(path.join(root, "src/openapi.json"), path.join(out, "openapi.json"));

// What the first load of any page fetches: index.html, the entry script with the chunks it
// imports statically, and the stylesheet (a screen's own chunk comes when it is opened).
const firstLoad = new Set([path.join(out, "index.html"), appCss]);
const walk = (file) => {
  if (firstLoad.has(file)) return;
  firstLoad.add(file);
  for (const imp of outputs[path.relative(root, file)]?.imports ?? []) {
    if (imp.kind === "import-statement") walk(path.resolve(root, imp.path));
  }
};
walk(appJs);
const gz = (f) => gzipSync(readFileSync(f), { level: 9 }).length;
const firstLoadBytes = [...firstLoad].reduce((n, f) => n + gz(f), 0);
const allBytes = [path.join(out, "index.html"), ...emitted].reduce((n, f) => n + gz(f), 0);
writeFileSync(path.join(root, "build/console-size.json"), JSON.stringify({ first_load_gzip: firstLoadBytes, all_gzip: allBytes,
  first_load_files: [...firstLoad].map((f) => path.relative(out, f)) }, null, 2));
if (!process.argv.includes("--quiet")) {
  console.log(`console: first load ${firstLoadBytes} B gzip (${firstLoad.size} files); every file ${allBytes} B gzip (${emitted.length + 1} files)`);
}
