// End-to-end tests of the web UI in headless Chromium against a real `ledgraph serve`: load the
// page, run a query, time travel, publish through the form and watch it arrive live, prove an
// event in the log view (✓), refuse a tampered proof and a tampered checkpoint (✗), check two
// checkpoints for consistency, show a SHACL refusal, and never request outside the origin.
// Each test saves a screenshot under $CARGO_TARGET_DIR/web-screenshots.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, openBrowser, screenshot, gotoView, publish } from "./harness.mjs";

const EX = "https://example.org/web-test#";
let server;
let ui;

before(async () => {
  server = await startServer();
  ui = await openBrowser();
});

after(async () => {
  await ui?.browser.close();
  await server?.stop();
});

async function runQuery(page, text) {
  await page.click("#view-query .cm-content");
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
  await page.click("#view-query button.primary");
}

test("the page loads with every view in the navigation", async () => {
  const { page } = ui;
  await gotoView(page, server, "query");
  const views = await page.$$eval("nav a", (links) => links.map((a) => a.textContent));
  assert.deepEqual(views, ["Query", "Live", "Log", "Metrics", "Descriptors", "Publish"]);
  assert.equal(await page.title(), "Query · ledgraph");
  await screenshot(page, "load");
});

test("a query shows its rows", async () => {
  const { page } = ui;
  await gotoView(page, server, "query");
  await runQuery(page, "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 3");
  await page.waitForSelector("#view-query table.results tbody tr");
  assert.equal(await page.locator("#view-query table.results tbody tr").count(), 3);
  const headers = await page.$$eval("#view-query table.results th", (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(headers, ["?s", "?p", "?o"]);
  await screenshot(page, "query-rows");
});

test("a published triple appears in the live view", async () => {
  const { page } = ui;
  await gotoView(page, server, "live");
  await page.waitForSelector("#live-status[data-state=open]");
  await page.click("nav a[data-view=publish]");
  const row = page.locator("#view-publish tbody tr").first();
  await row.locator("[name=s]").fill(`<${EX}sensor1>`);
  await row.locator("[name=p]").fill(`${EX}label`); // a bare IRI: the form adds <…>
  await row.locator("[name=o]").fill('"seen live"');
  await page.click("#view-publish button[type=submit].primary");
  await page.waitForSelector("#view-publish .verdict.ok");
  assert.match(await page.textContent("#view-publish .verdict.ok"), /Appended 1 event/);
  await screenshot(page, "publish-ok");
  await page.click("nav a[data-view=live]");
  const event = page.locator("#view-live .events li", { hasText: "seen live" });
  await event.waitFor();
  assert.match(await event.textContent(), new RegExp(`${EX}sensor1`));
  await screenshot(page, "live-event");
});

test("pause and resume continue from the last event seen", async () => {
  const { page } = ui;
  await gotoView(page, server, "live");
  await page.waitForSelector("#live-status[data-state=open]");
  await page.getByRole("button", { name: "Pause" }).click();
  await publish(server, [{ op: "add", s: `<${EX}paused>`, p: `<${EX}label>`, o: '"while paused"' }]);
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator("#view-live .events li", { hasText: "while paused" }).waitFor();
  await publish(server, [{ op: "add", s: `<${EX}paused>`, p: `<${EX}label>`, o: '"after resume"' }]);
  await page.locator("#view-live .events li", { hasText: "after resume" }).waitFor();
  assert.equal(await page.locator("#view-live .events li", { hasText: "while paused" }).count(), 1, "shown once");
  await screenshot(page, "live-resumed");
});

test("the live view shows only events matching the typed pattern", async () => {
  const { page } = ui;
  await gotoView(page, server, "live");
  await page.fill("#view-live input[name=p]", `<${EX}watched>`);
  await page.selectOption("#view-live select[name=op]", "add");
  await page.getByRole("button", { name: "Watch" }).click();
  await page.waitForSelector("#live-status[data-state=open]");
  await publish(server, [
    { op: "add", s: `<${EX}f>`, p: `<${EX}ignored>`, o: '"not this"' },
    { op: "add", s: `<${EX}f>`, p: `<${EX}watched>`, o: '"this one"' },
  ]);
  await publish(server, [{ op: "remove", s: `<${EX}f>`, p: `<${EX}watched>`, o: '"this one"' }]);
  await publish(server, [{ op: "add", s: `<${EX}f>`, p: `<${EX}watched>`, o: '"and this"' }]);
  await page.locator("#view-live .events li", { hasText: "and this" }).waitFor();
  const shown = await page.$$eval("#view-live .events li code", (codes) => codes.map((c) => c.textContent));
  assert.deepEqual(shown, [`<${EX}f> <${EX}watched> "and this"`, `<${EX}f> <${EX}watched> "this one"`]);
  await screenshot(page, "live-filtered");
});

test("the log view verifies the checkpoint and proves an event ✓", async () => {
  const { page } = ui;
  await gotoView(page, server, "log");
  await page.waitForSelector("#checkpoint-verdict .verdict");
  assert.match(await page.textContent("#checkpoint-verdict"), /✓\s*verified: Ed25519 signature verified/);
  const last = page.locator("#view-log .entries tbody tr").last();
  await last.locator("button").click();
  await page.waitForSelector("#proof .verdict");
  const verdict = await page.textContent("#proof .verdict");
  assert.match(verdict, /✓\s*verified: leaf \d+ is in the signed tree of size \d+/);
  await screenshot(page, "log-proof-ok");
});

test("a tampered inclusion proof is shown ✗ with the reason", async () => {
  const { page } = ui;
  await gotoView(page, server, "log");
  await page.waitForSelector("#checkpoint-verdict .verdict.ok");
  await page.route("**/v1/log/proof/inclusion**", async (route) => {
    const response = await route.fetch();
    const proof = await response.json();
    const bytes = Buffer.from(proof.hashes[0], "base64");
    bytes[0] ^= 0x01;
    proof.hashes[0] = bytes.toString("base64");
    await route.fulfill({ response, json: proof });
  });
  try {
    await page.locator("#view-log .entries tbody tr").first().locator("button").click();
    await page.waitForSelector("#proof .verdict.bad");
    assert.match(await page.textContent("#proof .verdict"), /✗\s*not verified: the proof leads to root .* not the signed root/);
    await screenshot(page, "log-proof-tampered");
  } finally {
    await page.unroute("**/v1/log/proof/inclusion**");
  }
});

test("a tampered checkpoint fails its signature ✗", async () => {
  const { page } = ui;
  await page.route("**/v1/log/checkpoint", async (route) => {
    const response = await route.fetch();
    const note = (await response.text()).replace(/\n(\d+)\n/, (_, n) => `\n${Number(n) + 1}\n`);
    await route.fulfill({ response, body: note });
  });
  try {
    await gotoView(page, server, "log");
    await page.waitForSelector("#checkpoint-verdict .verdict.bad");
    assert.match(await page.textContent("#checkpoint-verdict"), /signature does not verify/);
    await screenshot(page, "log-checkpoint-tampered");
  } finally {
    await page.unroute("**/v1/log/checkpoint");
  }
});

test("a later checkpoint is consistent with one seen before", async () => {
  const { page } = ui;
  await gotoView(page, server, "log");
  await page.waitForSelector("#checkpoint-verdict .verdict.ok");
  await publish(server, [{ op: "add", s: `<${EX}later>`, p: `<${EX}label>`, o: '"later"' }]);
  await page.getByRole("button", { name: "Refresh checkpoint" }).click();
  await page.waitForSelector("#checkpoint-verdict .verdict.ok");
  const options = await page.$$eval("#older-checkpoint option", (o) => o.map((x) => x.value));
  assert.ok(options.length >= 2, `remembered checkpoints: ${options}`);
  await page.selectOption("#older-checkpoint", options[0]);
  await page.getByRole("button", { name: "Check consistency" }).click();
  const verdict = page.locator("#view-log .verdict", { hasText: "extends" });
  await verdict.waitFor();
  assert.match(await verdict.textContent(), /✓\s*verified: the tree of size \d+ extends the tree of size \d+/);
  await screenshot(page, "log-consistency");
});

test("time travel: the asOf slider queries a past log position", async () => {
  const { page } = ui;
  const before = await publish(server, [{ op: "add", s: `<${EX}tt>`, p: `<${EX}label>`, o: '"one"' }]);
  await publish(server, [{ op: "add", s: `<${EX}tt>`, p: `<${EX}label>`, o: '"two"' }]);
  await gotoView(page, server, "query");
  await page.waitForFunction((at) => Number(document.querySelector("#asof").max) >= at, before.tree_size);
  await page.check("#asof-on");
  await page.$eval("#asof", (slider, at) => {
    slider.value = String(at);
    slider.dispatchEvent(new Event("input"));
  }, before.tree_size);
  await runQuery(page, `SELECT ?o WHERE { <${EX}tt> <${EX}label> ?o }`);
  await page.waitForSelector("#view-query table.results tbody tr");
  const past = await page.$$eval("#view-query table.results tbody td", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(past, ["one"]);
  assert.match(await page.textContent("#view-query .results-area"), new RegExp(`state after event ${before.tree_size}`));
  await screenshot(page, "query-as-of");
  // A position inside a transaction: the server names the boundaries around it, offered as buttons.
  await page.$eval("#asof", (slider) => {
    slider.value = "1";
    slider.dispatchEvent(new Event("input"));
  });
  await page.click("#view-query button.primary");
  await page.waitForSelector("#view-query .results-area .error");
  assert.match(await page.textContent("#view-query .results-area .error"), /split the transaction/);
  await page.getByRole("button", { name: /^asOf [1-9]/ }).click();
  await page.waitForSelector("#view-query .results-area table");
  assert.match(await page.textContent("#view-query .results-area"), /state after event [1-9]/);
  await screenshot(page, "query-as-of-boundary");
  await page.uncheck("#asof-on");
  await page.click("#view-query button.primary");
  await page.waitForFunction(() => document.querySelectorAll("#view-query table.results tbody tr").length === 2);
});

test("a batch the shapes refuse shows the SHACL report", async () => {
  const { page } = ui;
  await gotoView(page, server, "publish");
  const row = page.locator("#view-publish tbody tr").first();
  await row.locator("[name=s]").fill("<https://example.org/plant#wo-web>");
  await row.locator("[name=p]").fill("<https://example.org/plant#status>");
  await row.locator("[name=o]").fill('"bogus"');
  await page.click("#view-publish button[type=submit].primary");
  await page.waitForSelector("#view-publish .shacl-report");
  const text = await page.textContent("#view-publish .shacl-report");
  assert.match(text, /Refused: .*nothing was appended/);
  assert.match(text, /ex:status is one of/);
  assert.match(text, /row 1/);
  await screenshot(page, "publish-shacl-report");
});

test("the metrics and descriptors views render", async () => {
  const { page } = ui;
  await gotoView(page, server, "metrics");
  await page.waitForSelector("#view-metrics figure.chart");
  assert.equal(await page.locator("#view-metrics figure.chart").count(), 3);
  await page.getByRole("button", { name: /Per-transaction latency/ }).click();
  // The transactions these tests published over HTTP carry their timing.
  const chart = page.locator("#view-metrics .results-area figure.chart");
  await chart.waitFor();
  const label = await chart.locator("svg").getAttribute("aria-label");
  assert.match(label, /commit [\d.]+ (µs|ms|s), projection [\d.]+ (µs|ms|s)/);
  assert.ok((await page.locator("#view-metrics .results-area table tbody tr").count()) > 0);
  await screenshot(page, "metrics");
  await gotoView(page, server, "descriptors");
  await page.waitForFunction(() => !document.querySelector("#view-descriptors").textContent.includes("loading"));
  await screenshot(page, "descriptors");
});

test("no request left the origin and no CSP violation happened", async () => {
  const { page, requests, problems, cspViolations } = ui;
  await screenshot(page, "end-of-session");
  const outside = requests.filter((u) => !u.startsWith(`${server.origin}/`) && !u.startsWith("data:"));
  assert.deepEqual(outside, [], "requests outside the origin");
  assert.ok(requests.length > 10, `the tests made requests (${requests.length})`);
  assert.deepEqual(cspViolations, [], "CSP violations");
  assert.deepEqual(problems, [], "page errors");
});
