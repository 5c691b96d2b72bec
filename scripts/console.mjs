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
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const emitted = Object.keys(result.metafile.outputs).map((f) => path.resolve(root, f));
const named = (ext) => {
  const file = emitted.find((f) => f.endsWith(ext));
  if (!file) throw new Error(`esbuild emitted no ${ext}`);
  return `/assets/${path.basename(file)}`;
};
const html = readFileSync(path.join(src, "index.html"), "utf8")
  .replace("%APP_JS%", named(".js"))
  .replace("%APP_CSS%", named(".css"));
writeFileSync(path.join(out, "index.html"), html);
copyFileSync(path.join(src, "_headers"), path.join(out, "_headers"));
copyFileSync(path.join(src, "favicon.svg"), path.join(out, "favicon.svg"));

if (!process.argv.includes("--quiet")) {
  const gz = (f) => gzipSync(readFileSync(f), { level: 9 }).length;
  const files = [path.join(out, "index.html"), ...emitted];
  const total = files.reduce((n, f) => n + gz(f), 0);
  console.log(`console: ${files.map((f) => `${path.basename(f)} ${gz(f)} B gzip`).join(", ")}; first load ${total} B gzip`);
}
