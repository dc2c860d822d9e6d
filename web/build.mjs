// Builds the UI into web/dist: one JavaScript module and one stylesheet bundled and minified by
// esbuild from src/ and node_modules (the npm lockfile pins every library), index.html and the
// icon copied, and a .br and .gz beside each file so the server can send them precompressed.
// Deterministic: the same sources give the same bytes. Usage: `npm run build`.

import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile, copyFile, readdir } from "node:fs/promises";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const dist = join(here, "dist");
const assets = join(dist, "assets");

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });
await build({
  entryPoints: { app: join(here, "src/main.js") },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["chrome110", "firefox115", "safari16"],
  outdir: assets,
  legalComments: "linked",
  logLevel: "warning",
});
await build({
  entryPoints: { app: join(here, "src/style.css") },
  bundle: true,
  minify: true,
  outdir: assets,
  logLevel: "warning",
});
await copyFile(join(here, "src/index.html"), join(dist, "index.html"));
await copyFile(join(here, "src/icon.svg"), join(assets, "icon.svg"));

async function compressAll(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await compressAll(path);
    } else if (!/\.(br|gz)$/.test(entry.name)) {
      const bytes = await readFile(path);
      await writeFile(`${path}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      await writeFile(`${path}.gz`, gzipSync(bytes, { level: 9 }));
    }
  }
}
await compressAll(dist);
console.log(`built ${dist}`);
