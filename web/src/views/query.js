// The query view: a SPARQL editor (CodeMirror 6 with the SPARQL mode) against /sparql, the
// named queries of GET /v1/queries as one-click forms, and a log-position slider for `asOf`.

import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { StreamLanguage, syntaxHighlighting, HighlightStyle, bracketMatching } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { sparql } from "@codemirror/legacy-modes/mode/sparql";

import { request, getJson, getText, errorBox } from "../api.js";
import { el, clear, field } from "../dom.js";
import { renderAnswer, ACCEPT } from "../results.js";
import { parseNote, parseCheckpointText } from "../verify.js";

const DEFAULT_QUERY = `SELECT ?class (COUNT(?s) AS ?n)
WHERE { ?s a ?class }
GROUP BY ?class
ORDER BY DESC(?n)
LIMIT 20`;

// Token colours with at least 4.5:1 contrast on the editor's white (WCAG AA).
const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#6a1b9a", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "#9c1b1b" },
  { tag: tags.comment, color: "#5d4037", fontStyle: "italic" },
  { tag: [tags.variableName, tags.local(tags.variableName)], color: "#1a5276" },
  { tag: [tags.atom, tags.bool, tags.url], color: "#0d47a1" },
  { tag: tags.standard(tags.variableName), color: "#00574b" },
  { tag: [tags.number, tags.meta], color: "#1b5e20" },
  { tag: [tags.operator, tags.bracket], color: "#37474f" },
  { tag: tags.invalid, color: "#b71c1c", textDecoration: "underline" },
]);

/**
 * CodeMirror writes its styles into a <style> element; the CSP admits it only with the nonce the
 * server put in this page (a fresh one per load), which it allows for styles alone.
 */
function cspNonce() {
  const nonce = document.querySelector("meta[name=csp-nonce]")?.content;
  return nonce && !nonce.startsWith("{{") ? [EditorView.cspNonce.of(nonce)] : [];
}

// dateTime stays a text field: the server wants RFC 3339 with a zone, which datetime-local omits.
const KINDS = { iri: "url", integer: "number" };

export function queryView(root) {
  const results = el("div", { class: "results-area", "aria-live": "polite" });
  const asOfOn = el("input", { type: "checkbox", id: "asof-on" });
  const slider = el("input", { type: "range", id: "asof", min: 0, max: 0, value: 0, disabled: true, "aria-describedby": "asof-value" });
  const sliderValue = el("output", { id: "asof-value", for: "asof" }, "latest");
  const run = el("button", { type: "button", class: "primary" }, "Run query");

  const editor = new EditorView({
    parent: el("div"),
    state: EditorState.create({
      doc: DEFAULT_QUERY,
      extensions: [
        lineNumbers(),
        history(),
        highlightActiveLine(),
        bracketMatching(),
        StreamLanguage.define(sparql),
        syntaxHighlighting(highlight),
        keymap.of([{ key: "Mod-Enter", run: () => (runQuery(), true) }, ...defaultKeymap, ...historyKeymap]),
        cspNonce(),
        EditorView.contentAttributes.of({ "aria-label": "SPARQL query (Ctrl+Enter runs it)" }),
      ],
    }),
  });

  function asOf() {
    return asOfOn.checked ? slider.value : null;
  }

  function showAsOf() {
    sliderValue.textContent = asOfOn.checked ? `after event ${slider.value} of ${slider.max}` : "latest";
  }

  async function refreshLogSize() {
    try {
      const { text } = parseNote(await getText("/v1/log/checkpoint"));
      const { size } = parseCheckpointText(text);
      const atEnd = Number(slider.value) === Number(slider.max);
      slider.max = size;
      if (atEnd || !asOfOn.checked) slider.value = size;
      showAsOf();
    } catch {
      // The slider keeps its range; the query itself reports errors.
    }
  }

  async function show(path, body, caption) {
    clear(results, el("p", { class: "muted" }, "running…"));
    try {
      const response = await request(path, {
        method: body ? "POST" : "GET",
        body,
        headers: { Accept: ACCEPT, ...(body ? { "Content-Type": "application/x-www-form-urlencoded" } : {}) },
      });
      const asOfHeader = response.headers.get("ledgraph-as-of");
      const node = await renderAnswer(response, caption);
      clear(results, asOfHeader ? el("p", { class: "muted" }, `state after event ${asOfHeader}`) : null, node);
    } catch (e) {
      const rerun = () => show(withAsOf(path), body && withAsOf(body), caption);
      clear(results, errorBox(e), boundaryChoices(e, rerun));
    }
  }

  /** Sets asOf, where present, to the slider's value: in a form body or in a path's query. */
  function withAsOf(text) {
    const at = text.indexOf("?");
    const [head, query] = text.startsWith("/") ? [at < 0 ? text : text.slice(0, at + 1), at < 0 ? "" : text.slice(at + 1)] : ["", text];
    const form = new URLSearchParams(query);
    if (!form.has("asOf")) return text;
    form.set("asOf", slider.value);
    return head + form.toString();
  }

  /**
   * asOf must fall on a transaction boundary; the server's 400 names the two around the chosen
   * position ("… use 0 or 119"). Offer them as buttons that move the slider and run again.
   */
  function boundaryChoices(e, rerun) {
    const m = e.status === 400 && /split the transaction.*use (\d+) or (\d+)/.exec(e.message);
    if (!m) return null;
    return el(
      "div",
      { class: "toolbar" },
      "Nearest transaction boundaries:",
      [m[1], m[2]].map((at) => {
        const b = el("button", { type: "button" }, `asOf ${at}`);
        b.addEventListener("click", () => {
          slider.value = at;
          showAsOf();
          rerun();
        });
        return b;
      }),
    );
  }

  function runQuery() {
    const form = new URLSearchParams({ query: editor.state.doc.toString() });
    const at = asOf();
    if (at !== null) form.set("asOf", at);
    return show("/sparql", form.toString(), "Results");
  }

  run.addEventListener("click", runQuery);
  asOfOn.addEventListener("change", () => {
    slider.disabled = !asOfOn.checked;
    showAsOf();
  });
  slider.addEventListener("input", showAsOf);

  const named = el("div", { class: "named" }, el("p", { class: "muted" }, "loading named queries…"));

  async function loadNamed() {
    try {
      const { queries } = await getJson("/v1/queries");
      if (!queries.length) return clear(named, el("p", { class: "muted" }, "No named queries."));
      clear(named, el("ul", { class: "named-list" }, queries.map((q) => el("li", {}, namedForm(q)))));
    } catch (e) {
      const msg = e.status === 404 ? "Named queries are not available on this server yet." : e.message;
      clear(named, el("p", { class: "muted" }, msg));
    }
  }

  function namedForm(q) {
    const inputs = (q.params || []).map((p) =>
      field(`${p.name}${p.required ? " (required)" : ""}`, {
        name: p.name,
        type: KINDS[p.kind] || "text",
        required: p.required,
        title: p.description || p.kind,
        placeholder: p.kind,
      }),
    );
    // A listing may say a query cannot answer for a past position (`as_of: false`); it then
    // runs on the current state and says so, rather than send an asOf the server refuses.
    const timeTravels = q.as_of !== false;
    const form = el(
      "form",
      { class: "named-form" },
      el("button", { type: "submit" }, q.title || q.name),
      q.description ? el("p", { class: "muted" }, q.description) : null,
      timeTravels ? null : el("p", { class: "muted" }, "current state only (no time travel)"),
      inputs,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const params = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (v !== "") params.set(k, v);
      const at = asOf();
      if (at !== null && timeTravels) params.set("asOf", at);
      const path = `/v1/queries/${q.name.split("/").map(encodeURIComponent).join("/")}`;
      show(`${path}${params.size ? `?${params}` : ""}`, null, q.title || q.name);
    });
    return form;
  }

  root.append(
    el("h2", {}, "Query"),
    el(
      "div",
      { class: "query-layout" },
      el(
        "div",
        { class: "query-main" },
        el("div", { class: "editor" }, editor.dom),
        el(
          "div",
          { class: "toolbar" },
          run,
          el("label", { class: "inline" }, asOfOn, " time travel (asOf)"),
          el("label", { class: "inline", for: "asof" }, "log position"),
          slider,
          sliderValue,
        ),
        results,
      ),
      el("aside", { class: "query-side", "aria-label": "Named queries" }, el("h3", {}, "Named queries"), named),
    ),
  );
  loadNamed();
  return { show: refreshLogSize, editor };
}
