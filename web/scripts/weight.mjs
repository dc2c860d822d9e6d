// Prints the first-load weight of the build: the page and every asset it loads, raw, gzip and
// brotli (the .gz/.br files the build wrote, which the server sends). `npm run weight`.

import { statSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../dist/", import.meta.url).pathname;
const files = ["index.html", "assets/app.js", "assets/app.css", "assets/icon.svg"];
const size = (p) => statSync(join(dist, p)).size;
let total = { raw: 0, gz: 0, br: 0 };
for (const f of files) {
  const row = { raw: size(f), gz: size(`${f}.gz`), br: size(`${f}.br`) };
  for (const k of Object.keys(total)) total[k] += row[k];
  console.log(`${f.padEnd(18)} ${String(row.raw).padStart(8)} raw ${String(row.gz).padStart(8)} gzip ${String(row.br).padStart(8)} br`);
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`first load         ${kib(total.raw)} raw, ${kib(total.gz)} gzip, ${kib(total.br)} brotli`);
