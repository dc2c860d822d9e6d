// The publish form: add or remove a few triples (one transaction, POST /v1/events as JSON
// events), or paste N-Triples / Turtle. A batch refused by the SHACL shapes (422) shows its
// report as a table: which event, focus node, path, constraint, message, value.

import { request, errorBox } from "../api.js";
import { el, clear } from "../dom.js";

/** Rows the form offers at most (the server has its own, larger limits). */
const ROWS_MAX = 50;

const RAW_TYPES = {
  "application/n-triples": "N-Triples",
  "text/turtle": "Turtle",
  "application/rdf-patch": "RDF Patch",
};

export function publishView(root) {
  const rows = el("tbody");
  const addRow = el("button", { type: "button" }, "Add a row");
  const result = el("div", { class: "publish-result", "aria-live": "polite" });
  const rawType = el("select", { id: "raw-type" }, Object.entries(RAW_TYPES).map(([v, n]) => el("option", { value: v }, n)));
  const raw = el("textarea", { id: "raw-body", rows: 6, placeholder: "<https://example.org/s> <https://example.org/p> \"o\" ." });
  let count = 0;

  function row() {
    const n = ++count;
    const remove = el("button", { type: "button", "aria-label": `remove row ${n}` }, "Remove");
    const tr = el(
      "tr",
      {},
      el(
        "td",
        {},
        el(
          "select",
          { name: "op", "aria-label": `row ${n} operation` },
          el("option", { value: "add" }, "add"),
          el("option", { value: "remove" }, "remove"),
        ),
      ),
      ["s", "p", "o", "g"].map((k) =>
        el(
          "td",
          {},
          el("input", {
            name: k,
            "aria-label": `row ${n} ${{ s: "subject", p: "predicate", o: "object", g: "graph (optional)" }[k]}`,
            placeholder: { s: "<https://example.org/s>", p: "<https://example.org/p>", o: '"value" or <iri>', g: "(default graph)" }[k],
          }),
        ),
      ),
      el("td", {}, remove),
    );
    remove.addEventListener("click", () => {
      tr.remove();
      if (!rows.children.length) rows.append(row());
    });
    return tr;
  }

  addRow.addEventListener("click", () => {
    if (rows.children.length < ROWS_MAX) rows.append(row());
    rows.lastElementChild.querySelector("input").focus();
  });

  /** A bare IRI typed without angle brackets gets them; everything else is sent as typed. */
  function term(v) {
    const t = v.trim();
    return /^[a-z][a-z0-9+.-]*:[^\s<>"]*$/i.test(t) && !t.startsWith("_:") ? `<${t}>` : t;
  }

  function events() {
    return Array.from(rows.children)
      .map((tr) => {
        const get = (k) => tr.querySelector(`[name=${k}]`).value;
        const ev = { op: get("op"), s: term(get("s")), p: term(get("p")), o: term(get("o")) };
        if (get("g").trim()) ev.g = term(get("g"));
        return ev;
      })
      .filter((ev) => ev.s || ev.p || ev.o);
  }

  async function send(body, contentType) {
    clear(result, el("p", { class: "muted" }, "publishing…"));
    try {
      const response = await request("/v1/events", {
        method: "POST",
        body,
        headers: { "Content-Type": contentType, Accept: "application/json" },
      });
      const ack = await response.json();
      clear(
        result,
        el(
          "p",
          { class: "verdict ok", role: "status" },
          `Appended ${ack.count} event${ack.count === 1 ? "" : "s"} (#${ack.first_seq}–#${ack.last_seq}); the log now has ${ack.tree_size} events. `,
          el("a", { href: "#/log" }, "Check it in the log"),
        ),
        el("details", {}, el("summary", {}, "signed checkpoint"), el("pre", {}, ack.checkpoint || "")),
      );
    } catch (e) {
      if (e.status === 422 && e.body) return clear(result, report(e.body));
      clear(result, errorBox(e));
    }
  }

  const form = el(
    "form",
    { class: "publish" },
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", {}, "Triples to add or remove, in N-Triples syntax (one transaction)"),
        el("thead", {}, el("tr", {}, ["op", "subject", "predicate", "object", "graph", ""].map((h) => el("th", { scope: "col" }, h)))),
        rows,
      ),
    ),
    el("div", { class: "toolbar" }, addRow, el("button", { type: "submit", class: "primary" }, "Publish")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const batch = events();
    if (!batch.length) return clear(result, errorBox("fill in at least one triple"));
    send(JSON.stringify(batch), "application/json");
  });

  const rawForm = el(
    "form",
    { class: "publish-raw" },
    el("label", { class: "field", for: "raw-type" }, el("span", {}, "Format"), rawType),
    el("label", { class: "field", for: "raw-body" }, el("span", {}, "Document"), raw),
    el("button", { type: "submit" }, "Publish document"),
  );
  rawForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!raw.value.trim()) return clear(result, errorBox("the document is empty"));
    send(raw.value, rawType.value);
  });

  rows.append(row());
  root.append(
    el("h2", {}, "Publish"),
    form,
    el("details", { class: "raw" }, el("summary", {}, "…or publish a document"), rawForm),
    result,
  );
  return {};
}

/** A SHACL validation report (the 422 JSON body) as a readable table. */
export function report(body) {
  const results = body.results || [];
  return el(
    "div",
    { class: "shacl-report", role: "alert" },
    el("p", { class: "verdict bad" }, el("span", { "aria-hidden": "true" }, "✗ "), `Refused: ${body.error || "the batch violates the shapes; nothing was appended."}`),
    el(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "validation results" },
      el(
        "table",
        {},
        el("caption", {}, `${results.length} validation result${results.length === 1 ? "" : "s"}`),
        el("thead", {}, el("tr", {}, ["event", "focus node", "path", "message", "value", "constraint", "shape set"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          results.map((r) =>
            el(
              "tr",
              {},
              el("td", {}, r.event === null || r.event === undefined ? "–" : `row ${r.event + 1}`),
              el("td", {}, el("code", {}, r.focus_node || "")),
              el("td", {}, el("code", {}, r.path || "")),
              el("td", { class: "message" }, r.message || ""),
              el("td", {}, el("code", {}, r.value || "")),
              el("td", {}, `${r.constraint || ""} (${(r.severity || "").replace("sh:", "")})`),
              el("td", {}, `${r.shape_set || ""} (${r.mode || ""})`),
            ),
          ),
        ),
      ),
    ),
    el("details", {}, el("summary", {}, "report in Turtle"), el("pre", {}, body.report || "")),
  );
}
