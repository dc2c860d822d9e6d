// Renders a SPARQL answer: SELECT/ASK results (application/sparql-results+json) as a table or a
// yes/no, graphs (Turtle) and anything else as text. Rows past ROWS_SHOWN_MAX are counted, not
// drawn: a browser table of a million rows helps nobody.

import { el } from "./dom.js";

export const ROWS_SHOWN_MAX = 1000;
const XSD = "http://www.w3.org/2001/XMLSchema#";

export const ACCEPT = "application/sparql-results+json, text/turtle;q=0.9, text/plain;q=0.5";

function term(t) {
  if (!t) return el("td", { class: "unbound" }, "");
  switch (t.type) {
    case "uri":
      return el("td", { class: "iri" }, t.value);
    case "bnode":
      return el("td", { class: "bnode" }, `_:${t.value}`);
    case "literal": {
      const suffix = t["xml:lang"]
        ? `@${t["xml:lang"]}`
        : t.datatype && t.datatype !== `${XSD}string`
          ? `^^${t.datatype.startsWith(XSD) ? `xsd:${t.datatype.slice(XSD.length)}` : t.datatype}`
          : "";
      return el("td", { class: "literal" }, t.value, suffix ? el("span", { class: "dt" }, suffix) : null);
    }
    case "triple":
      return el("td", { class: "triple" }, `<< ${["subject", "predicate", "object"].map((k) => t.value[k]?.value).join(" ")} >>`);
    default:
      return el("td", {}, JSON.stringify(t));
  }
}

/** An element showing the answer of `response` (a fetch Response with a 2xx status). */
export async function renderAnswer(response, caption) {
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (type === "application/sparql-results+json" || type === "application/json") {
    const json = await response.json();
    if (typeof json.boolean === "boolean") {
      return el("p", { class: "ask", role: "status" }, `ASK: ${json.boolean ? "yes" : "no"}`);
    }
    return table(json, caption);
  }
  const text = await response.text();
  return el("pre", { class: "graph", tabindex: "0", "aria-label": `${caption} (${type})` }, text);
}

function table(json, caption) {
  const vars = json.head?.vars || [];
  const rows = json.results?.bindings || [];
  const shown = rows.slice(0, ROWS_SHOWN_MAX);
  const count = `${rows.length} row${rows.length === 1 ? "" : "s"}${rows.length > shown.length ? `, first ${shown.length} shown` : ""}`;
  return el(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `${caption}: ${count}` },
    el(
      "table",
      { class: "results" },
      el("caption", {}, `${caption} — ${count}`),
      el("thead", {}, el("tr", {}, vars.map((v) => el("th", { scope: "col" }, `?${v}`)))),
      el("tbody", {}, shown.map((b) => el("tr", {}, vars.map((v) => term(b[v]))))),
    ),
  );
}
