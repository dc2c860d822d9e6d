// The log view: the latest signed checkpoint, verified here against the node's verifier key;
// entries page by page; selecting one fetches its inclusion proof and checks it against the
// verified checkpoint's root; two checkpoints checked for consistency.
//
// The verdicts come from ../verify.js running in this browser: the server supplies bytes and
// proofs, never the answer. Checkpoints this browser verified are remembered (localStorage) so a
// later visit can prove the log only grew since.

import { getJson, getText, errorBox } from "../api.js";
import { el, clear, verdict } from "../dom.js";
import { b64decode, b64encode, hex, verifyCheckpoint, verifyInclusion, verifyConsistency } from "../verify.js";

const PAGE_EVENTS = 20;
const SAVED_KEY = "ledgraph.checkpoints";
/** Checkpoints remembered per browser (oldest dropped). */
const SAVED_MAX = 20;

function savedCheckpoints() {
  try {
    const list = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

function remember(note, size) {
  const list = savedCheckpoints().filter((c) => c.note !== note);
  list.push({ note, size, saved: new Date().toISOString() });
  list.sort((a, b) => a.size - b.size);
  localStorage.setItem(SAVED_KEY, JSON.stringify(list.slice(-SAVED_MAX)));
}

export function logView(root) {
  const checkpointBox = el("div", { class: "checkpoint", "aria-live": "polite" });
  const refresh = el("button", { type: "button" }, "Refresh checkpoint");
  const entriesBox = el("div", { class: "entries" });
  const proofBox = el("div", { class: "proof", "aria-live": "polite", id: "proof" });
  const olderSelect = el("select", { id: "older-checkpoint" });
  const pasted = el("textarea", { id: "pasted-checkpoint", rows: 5, placeholder: "or paste a signed checkpoint note" });
  const checkConsistency = el("button", { type: "button" }, "Check consistency");
  const consistencyBox = el("div", { "aria-live": "polite" });

  let vkey = null;
  let current = null; // { note, checkpoint, ok }
  let from = null;

  async function loadCheckpoint() {
    clear(checkpointBox, el("p", { class: "muted" }, "verifying…"));
    try {
      vkey = vkey || (await getText("/v1/log/vkey"));
      const note = await getText("/v1/log/checkpoint");
      const result = await verifyCheckpoint(note, vkey);
      current = { note, ...result };
      if (result.ok) remember(note, result.checkpoint.size);
      const cp = result.checkpoint;
      clear(
        checkpointBox,
        cp
          ? el(
              "dl",
              { class: "facts" },
              el("dt", {}, "origin"),
              el("dd", {}, cp.origin),
              el("dt", {}, "size"),
              el("dd", { id: "checkpoint-size" }, String(cp.size)),
              el("dt", {}, "root"),
              el("dd", {}, el("code", {}, b64encode(cp.root)), el("br"), el("code", { class: "muted" }, hex(cp.root))),
              el("dt", {}, "verifier key"),
              el("dd", {}, el("code", {}, vkey.trim())),
            )
          : null,
        el("div", { id: "checkpoint-verdict" }, verdict(result.ok, result.reason)),
        el("details", {}, el("summary", {}, "signed note"), el("pre", {}, note)),
      );
      fillSaved();
    } catch (e) {
      current = null;
      clear(checkpointBox, errorBox(e));
    }
  }

  async function loadEntries(start) {
    try {
      const size = current?.checkpoint?.size ?? 0;
      from = start ?? Math.max(0, size - PAGE_EVENTS);
      const page = await getJson(`/v1/log/entries?from=${from}&limit=${PAGE_EVENTS}`);
      const older = el("button", { type: "button", disabled: from === 0 }, "Older");
      const newer = el("button", { type: "button", disabled: page.next === undefined }, "Newer");
      older.addEventListener("click", () => loadEntries(Math.max(0, from - PAGE_EVENTS)));
      newer.addEventListener("click", () => loadEntries(page.next));
      const rows = page.entries.map((entry) => {
        const prove = el("button", { type: "button", class: "link", "aria-label": `prove event ${entry.seq}` }, `#${entry.seq}`);
        prove.addEventListener("click", () => proveEntry(entry));
        return el(
          "tr",
          { "data-seq": entry.seq },
          el("td", {}, prove),
          el("td", {}, entry.op),
          el("td", {}, el("code", {}, `${entry.s} ${entry.p} ${entry.o}${entry.g ? ` ${entry.g}` : ""}`)),
          el("td", {}, entry.ends_transaction ? "yes" : ""),
        );
      });
      clear(
        entriesBox,
        el(
          "div",
          { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "log entries" },
          el(
            "table",
            {},
            el("caption", {}, `events ${from}–${from + page.entries.length - 1} of ${page.size}; choose one to prove it is in the log`),
            el("thead", {}, el("tr", {}, ["seq", "op", "triple", "ends tx"].map((h) => el("th", { scope: "col" }, h)))),
            el("tbody", {}, rows),
          ),
        ),
        el("div", { class: "toolbar" }, older, newer),
      );
    } catch (e) {
      clear(entriesBox, errorBox(e));
    }
  }

  async function proveEntry(entry) {
    clear(proofBox, el("p", { class: "muted" }, `proving event #${entry.seq}…`));
    try {
      if (!current || !current.checkpoint || entry.seq >= current.checkpoint.size) await loadCheckpoint();
      if (!current || !current.ok) {
        return clear(proofBox, verdict(false, "the checkpoint's signature did not verify, so no proof against it can"));
      }
      const cp = current.checkpoint;
      const proof = await getJson(`/v1/log/proof/inclusion?seq=${entry.seq}&size=${cp.size}`);
      const result = await verifyInclusion(b64decode(entry.entry), proof, cp);
      clear(
        proofBox,
        el("h3", {}, `Event #${entry.seq}`),
        el("p", {}, el("code", {}, `${entry.op} ${entry.s} ${entry.p} ${entry.o}`)),
        verdict(result.ok, result.reason),
        el("details", {}, el("summary", {}, `proof: ${proof.hashes.length} hashes`), el("pre", {}, JSON.stringify(proof, null, 1))),
      );
    } catch (e) {
      clear(proofBox, verdict(false, `no proof: ${e.message}`));
    }
  }

  function fillSaved() {
    const saved = savedCheckpoints();
    clear(
      olderSelect,
      saved.map((c, i) => el("option", { value: i }, `size ${c.size} (seen ${c.saved.replace("T", " ").slice(0, 19)})`)),
    );
  }

  async function consistency() {
    clear(consistencyBox, el("p", { class: "muted" }, "checking…"));
    try {
      await loadCheckpoint();
      if (!current?.ok) return clear(consistencyBox, verdict(false, "the latest checkpoint does not verify"));
      const note = pasted.value.trim() ? `${pasted.value.trim()}\n` : savedCheckpoints()[olderSelect.value]?.note;
      if (!note) return clear(consistencyBox, verdict(false, "choose or paste an older checkpoint"));
      const older = await verifyCheckpoint(note, vkey);
      if (!older.ok) return clear(consistencyBox, verdict(false, `older checkpoint: ${older.reason}`));
      const [a, b] = [older.checkpoint, current.checkpoint];
      if (a.size > b.size) return clear(consistencyBox, verdict(false, `the older checkpoint (size ${a.size}) is larger than the latest (${b.size})`));
      const proof = a.size === 0 || a.size === b.size ? { hashes: [] } : await getJson(`/v1/log/proof/consistency?from=${a.size}&to=${b.size}`);
      const result = await verifyConsistency(a, b, proof.hashes);
      clear(consistencyBox, verdict(result.ok, result.reason));
    } catch (e) {
      clear(consistencyBox, verdict(false, e.message));
    }
  }

  refresh.addEventListener("click", async () => {
    await loadCheckpoint();
    await loadEntries();
  });
  checkConsistency.addEventListener("click", consistency);

  root.append(
    el("h2", {}, "Signed log"),
    el(
      "section",
      { "aria-labelledby": "cp-h" },
      el("h3", { id: "cp-h" }, "Latest checkpoint"),
      checkpointBox,
      refresh,
    ),
    el("section", { "aria-labelledby": "en-h" }, el("h3", { id: "en-h" }, "Entries"), entriesBox, proofBox),
    el(
      "section",
      { "aria-labelledby": "co-h" },
      el("h3", { id: "co-h" }, "Consistency"),
      el("p", { class: "muted" }, "Does the latest checkpoint extend one this browser verified before (or one you paste)?"),
      el("label", { class: "field", for: "older-checkpoint" }, el("span", {}, "Older checkpoint"), olderSelect),
      el("label", { class: "field", for: "pasted-checkpoint" }, el("span", {}, "Pasted note"), pasted),
      checkConsistency,
      consistencyBox,
    ),
  );
  return {
    async show() {
      await loadCheckpoint();
      await loadEntries();
    },
  };
}
