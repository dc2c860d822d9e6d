// Accessibility and weight of the web UI in headless Chromium: the keyboard alone reaches every
// control of every view; axe-core finds no WCAG 2.x A/AA violation (colour contrast included);
// the first load's compressed weight is measured (goal: under 1.5 MB) and written to
// $CARGO_TARGET_DIR/web-screenshots/page-weight.json. A server with tokens asks for one once.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import { startServer, openBrowser, screenshot, gotoView, publish, repo, screenshotDir } from "./harness.mjs";

const VIEWS = ["query", "live", "log", "metrics", "descriptors", "publish"];
const FIRST_LOAD_BYTES_MAX = 1.5e6;
const axeSource = readFileSync(join(repo, "web", "node_modules", "axe-core", "axe.min.js"), "utf8");

let server;
let ui;

before(async () => {
  server = await startServer();
  ui = await openBrowser();
  await publish(server, [{ op: "add", s: "<https://example.org/a11y#s>", p: "<https://example.org/a11y#p>", o: '"o"' }]);
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

/** Marks every visible, enabled control of the page; returns their descriptions. */
function markControls(page) {
  return page.evaluate(() => {
    const selector =
      'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"]), [contenteditable="true"]';
    const controls = Array.from(document.querySelectorAll(selector)).filter(
      (e) => e.checkVisibility() && !e.closest("dialog:not([open])"),
    );
    return controls.map((e, i) => {
      e.dataset.kb = String(i);
      return `${e.tagName.toLowerCase()} ${e.getAttribute("aria-label") || e.textContent.trim().slice(0, 30) || e.name || e.id}`;
    });
  });
}

for (const view of VIEWS) {
  test(`the keyboard reaches every control of the ${view} view`, async (t) => {
    const { page } = ui;
    await gotoView(page, server, view);
    await page.waitForLoadState("networkidle");
    const controls = await markControls(page);
    const reached = new Set();
    await page.evaluate(() => document.activeElement?.blur());
    for (let i = 0; i < controls.length * 2 + 10; i++) {
      await page.keyboard.press("Tab");
      const mark = await page.evaluate(() => document.activeElement?.closest("[data-kb]")?.dataset.kb);
      if (mark !== undefined) reached.add(Number(mark));
      if (reached.size === controls.length) break;
    }
    const missed = controls.filter((_, i) => !reached.has(i));
    t.diagnostic(`${view}: ${reached.size} of ${controls.length} controls reached by Tab`);
    await screenshot(page, `keyboard-${view}`);
    assert.ok(controls.length >= 8, `${view}: found the controls (${controls.length})`);
    assert.deepEqual(missed, [], `not reachable by Tab in ${view}`);
  });
}

test("the page passes axe-core's WCAG 2 A and AA rules (contrast included) on every view", async () => {
  const { page } = ui;
  for (const view of VIEWS) {
    await gotoView(page, server, view);
    await page.waitForLoadState("networkidle");
    if (view === "log") {
      await page.locator("#view-log .entries tbody tr").last().locator("button").click();
      await page.waitForSelector("#proof .verdict");
    }
    // Evaluated through the DevTools protocol, which the page's CSP does not govern.
    await page.evaluate(axeSource);
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
    );
    const violations = result.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
    await screenshot(page, `a11y-${view}`);
    assert.deepEqual(violations, [], `${view} view`);
    assert.ok(result.passes.some((p) => p.id === "color-contrast") || view === "metrics", `${view}: contrast was checked`);
  }
});

test("the first load weighs well under 1.5 MB compressed", async (t) => {
  const context = await ui.browser.newContext();
  const page = await context.newPage();
  const responses = [];
  page.on("response", (r) => responses.push(r));
  await page.goto(server.url, { waitUntil: "networkidle" });
  let total = 0;
  const files = [];
  for (const r of responses) {
    const sizes = await r.request().sizes();
    const bytes = sizes.responseBodySize + sizes.responseHeadersSize;
    total += bytes;
    files.push({ url: new URL(r.url()).pathname, encoding: (await r.allHeaders())["content-encoding"] || "identity", bytes });
  }
  await screenshot(page, "first-load");
  await context.close();
  mkdirSync(screenshotDir, { recursive: true });
  writeFileSync(join(screenshotDir, "page-weight.json"), JSON.stringify({ total_bytes: total, files }, null, 1));
  t.diagnostic(`first load: ${total} bytes over the wire (${files.map((f) => `${f.url} ${f.bytes} ${f.encoding}`).join(", ")})`);
  assert.ok(total < FIRST_LOAD_BYTES_MAX, `${total} bytes`);
  assert.ok(files.some((f) => f.url === "/assets/app.js" && f.encoding !== "identity"), "app.js was sent compressed");
});

test("a server with tokens asks for one once and keeps it for the session", async () => {
  const secret = "web-ui-test-reader-token-0001";
  const guarded = await startServer({ LEDGRAPH_TOKENS: `${secret}=read` });
  const context = await ui.browser.newContext();
  const page = await context.newPage();
  try {
    // The view's first request (the log size for the asOf slider) gets the 401.
    await gotoView(page, guarded, "query");
    const dialog = page.locator("#token-dialog");
    await dialog.waitFor({ state: "visible" });
    await screenshot(page, "token-prompt");
    await page.fill("#token-input", secret);
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "hidden" });
    await page.click("#view-query button.primary");
    await page.waitForSelector("#view-query table.results tbody tr");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("ledgraph.token")), secret);
    // Another view needs no second prompt.
    await page.click("nav a[data-view=log]");
    await page.waitForSelector("#checkpoint-verdict .verdict.ok");
    assert.equal(await dialog.isVisible(), false);
    await screenshot(page, "token-kept");
  } finally {
    await context.close();
    await guarded.stop();
  }
});
