// Shared by the browser tests: a `ledgraph serve` on a temporary data directory and a free
// port (the debug binary of $CARGO_TARGET_DIR, or $LEDGRAPH_BIN), the real web/dist build, and
// Debian's headless Chromium driven by playwright-core. Every request the page makes is
// recorded, so a test can check none left the origin; screenshots go to
// $CARGO_TARGET_DIR/web-screenshots.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(join(repo, "web", "package.json"));
const { chromium } = require("playwright-core");

const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache/ledgraph/target");
export const screenshotDir = join(targetDir, "web-screenshots");
/** How long the server may take to print its address. */
const SERVER_START_MS = 60_000;

function binary() {
  const bin = process.env.LEDGRAPH_BIN || join(targetDir, "debug", "ledgraph");
  if (!existsSync(bin)) throw new Error(`${bin} not found: build it first (cargo build)`);
  return bin;
}

export function chromiumPath() {
  for (const p of [process.env.CHROMIUM_BIN, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (p && existsSync(p)) return p;
  }
  throw new Error("no Chromium: apt-get install chromium (tests/setup.sh does)");
}

/** Starts `ledgraph serve` (demo data and the repository's shapes) on 127.0.0.1 and a free port. */
export async function startServer(extraEnv = {}) {
  const data = mkdtempSync(join(tmpdir(), "ledgraph-web-"));
  const child = spawn(
    binary(),
    ["--data", join(data, "data"), "serve", "--bind", "127.0.0.1:0", "--web-dir", join(repo, "web", "dist")],
    { cwd: repo, env: { ...process.env, RUST_LOG: "warn", ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}\n${stderr}`)), SERVER_START_MS);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /web UI:\s+(http:\/\/\S+?\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}\n${stderr}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium with one page; `requests` collects every URL the page asks for. */
export async function openBrowser() {
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Chromium logs every 4xx; the ones the tests provoke (a 400 asOf inside a transaction, the 401
  // before a token, the 404 of routes a server lacks, a 422 SHACL refusal) are not problems.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[014]|status of 422/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  const cspViolations = [];
  await page.exposeFunction("__reportCsp", (v) => cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportCsp(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { browser, context, page, requests, problems, cspViolations };
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Loads `/#/view` afresh and waits until the app has started. */
let loads = 0;

export async function gotoView(page, server, view) {
  // A distinct query string makes every call a fresh page load, not a fragment change.
  await page.goto(`${server.url}?load=${++loads}#/${view}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector(`#view-${view}:not([hidden])`);
}

/** Publishes through the server's API directly (not through the UI). */
export async function publish(server, events) {
  const response = await fetch(`${server.origin}/v1/events`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(events),
  });
  if (response.status !== 201) throw new Error(`publish: ${response.status} ${await response.text()}`);
  return response.json();
}
