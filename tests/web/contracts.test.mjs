// The views that show other parts' routes, against the JSON contracts of /work/notes/common.md
// (GET /v1/queries and /v1/queries/{name}, owner: history; GET /v1/descriptors, owner: kernel),
// answered by route interception so the UI is checked whether or not this build serves them
// yet; and the same views against a server without them (404 → said plainly).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startServer, openBrowser, screenshot, gotoView } from "./harness.mjs";

const QUERIES = {
  queries: [
    {
      name: "audit/subject-history",
      title: "Subject history",
      description: "Every event about a subject",
      params: [{ name: "s", kind: "iri", required: true, description: "the subject" }],
    },
    // Not in the contract yet: a listing may mark a query that cannot answer asOf.
    { name: "metrics/ingest-rate", title: "Ingest rate", description: "", params: [], as_of: false },
  ],
};

const HISTORY = {
  head: { vars: ["seq", "op"] },
  results: {
    bindings: [
      { seq: { type: "literal", value: "7", datatype: "http://www.w3.org/2001/XMLSchema#integer" }, op: { type: "literal", value: "add" } },
      { seq: { type: "literal", value: "9", datatype: "http://www.w3.org/2001/XMLSchema#integer" }, op: { type: "literal", value: "remove" } },
    ],
  },
};

const DIGEST_A = "a".repeat(64);
const DIGEST_B = "b".repeat(64);
const DESCRIPTORS = {
  active: DIGEST_B,
  descriptors: [
    { digest: DIGEST_A, name: "plant", compiler_version: "0.1.0", rules: { hot: 3, warm: 1 }, report: "3 hot rules, 1 warm" },
    { digest: DIGEST_B, name: "plant", compiler_version: "0.1.0", rules: { hot: 4, warm: 0 }, report: "4 hot rules" },
  ],
  activations: [
    { seq: 150, digest: DIGEST_A, time: "2026-12-02T15:00:00Z" },
    { seq: 160, digest: DIGEST_B, time: "2026-12-02T15:05:00Z" },
  ],
};

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

test("named queries open with one click, parameters as form fields, asOf passed on", async () => {
  const { page } = ui;
  const asked = [];
  await page.route("**/v1/queries", (route) => route.fulfill({ json: QUERIES }));
  await page.route("**/v1/queries/**", (route) => {
    asked.push(new URL(route.request().url()));
    return route.fulfill({ body: JSON.stringify(HISTORY), contentType: "application/sparql-results+json" });
  });
  try {
    await gotoView(page, server, "query");
    const form = page.locator(".named-form", { hasText: "Subject history" });
    await form.waitFor();
    await form.locator("input[name=s]").fill("https://example.org/plant#pump-7");
    await page.waitForFunction(() => Number(document.querySelector("#asof").max) > 0);
    await page.check("#asof-on");
    await page.$eval("#asof", (slider) => {
      slider.value = "148";
      slider.dispatchEvent(new Event("input"));
    });
    await form.getByRole("button", { name: "Subject history" }).click();
    await page.waitForSelector("#view-query table.results tbody tr");
    assert.equal(await page.locator("#view-query table.results tbody tr").count(), 2);
    const url = asked.at(-1);
    assert.equal(url.pathname, "/v1/queries/audit/subject-history");
    assert.equal(url.searchParams.get("s"), "https://example.org/plant#pump-7");
    assert.equal(url.searchParams.get("asOf"), "148");
    await screenshot(page, "named-query");
    await page.getByRole("button", { name: "Ingest rate" }).click();
    await page.waitForFunction(() => document.querySelector("#view-query .results-area caption")?.textContent.startsWith("Ingest rate"));
    assert.equal(asked.at(-1).pathname, "/v1/queries/metrics/ingest-rate");
    assert.equal(asked.at(-1).searchParams.get("asOf"), null, "no asOf for a query that cannot take it");
  } finally {
    await page.unrouteAll();
  }
});

test("without named queries the query view says so", async () => {
  const { page } = ui;
  await page.route("**/v1/queries", (route) => route.fulfill({ status: 404, json: { error: "no such route" } }));
  try {
    await gotoView(page, server, "query");
    await page.locator(".named", { hasText: "not available" }).waitFor();
    await screenshot(page, "named-queries-missing");
  } finally {
    await page.unrouteAll();
  }
});

test("descriptors: versions, the active one, compile reports and activations", async () => {
  const { page } = ui;
  await page.route("**/v1/descriptors", (route) => route.fulfill({ json: DESCRIPTORS }));
  try {
    await gotoView(page, server, "descriptors");
    await page.waitForSelector("#view-descriptors table tbody tr");
    const rows = page.locator("#view-descriptors table tbody tr");
    assert.equal(await rows.count(), 2);
    assert.match(await page.textContent("#view-descriptors tr.active"), /4\s*0\s*✓ active/);
    assert.equal(await page.locator("#view-descriptors .activations li").count(), 2);
    await rows.first().locator("summary").click();
    assert.match(await rows.first().textContent(), /3 hot rules, 1 warm/);
    await screenshot(page, "descriptors-contract");
  } finally {
    await page.unrouteAll();
  }
});

test("without descriptors the view says there are none yet", async () => {
  const { page } = ui;
  await page.route("**/v1/descriptors", (route) => route.fulfill({ status: 404, json: { error: "no such route" } }));
  try {
    await gotoView(page, server, "descriptors");
    await page.locator("#view-descriptors", { hasText: "No descriptors yet" }).waitFor();
    await screenshot(page, "descriptors-missing");
  } finally {
    await page.unrouteAll();
  }
});
