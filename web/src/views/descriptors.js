// The descriptors view: compiled rule descriptors (GET /v1/descriptors), which one is active,
// each one's compile report (hot/warm rules) and the activation history. Servers without
// descriptor support answer 404, shown as "no descriptors yet".

import { getJson, errorBox } from "../api.js";
import { el, clear } from "../dom.js";

export function descriptorsView(root) {
  const box = el("div", { "aria-live": "polite" });

  async function load() {
    clear(box, el("p", { class: "muted" }, "loading…"));
    let data;
    try {
      data = await getJson("/v1/descriptors");
    } catch (e) {
      if (e.status === 404) return clear(box, el("p", { class: "muted" }, "No descriptors yet: this server has not compiled or activated any."));
      return clear(box, errorBox(e));
    }
    const descriptors = data.descriptors || [];
    const activations = data.activations || [];
    clear(
      box,
      el("p", {}, "Active: ", data.active ? el("code", {}, data.active) : "none"),
      descriptors.length
        ? el(
            "div",
            { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "descriptor versions" },
            el(
              "table",
              {},
              el("caption", {}, `${descriptors.length} descriptor version${descriptors.length === 1 ? "" : "s"}`),
              el("thead", {}, el("tr", {}, ["name", "digest", "compiler", "hot rules", "warm rules", "active", "compile report"].map((h) => el("th", { scope: "col" }, h)))),
              el(
                "tbody",
                {},
                descriptors.map((d) =>
                  el(
                    "tr",
                    { class: d.digest === data.active ? "active" : "" },
                    el("td", {}, d.name || ""),
                    el("td", {}, el("code", { title: d.digest }, (d.digest || "").slice(0, 16))),
                    el("td", {}, d.compiler_version || ""),
                    el("td", {}, String(d.rules?.hot ?? "–")),
                    el("td", {}, String(d.rules?.warm ?? "–")),
                    el("td", {}, d.digest === data.active ? "✓ active" : ""),
                    el("td", {}, el("details", {}, el("summary", {}, "report"), el("pre", {}, d.report || "(empty)"))),
                  ),
                ),
              ),
            ),
          )
        : el("p", { class: "muted" }, "No descriptor versions."),
      el("h3", {}, "Activations"),
      activations.length
        ? el(
            "ol",
            { class: "activations" },
            activations.map((a) => el("li", {}, `event #${a.seq} at ${a.time}: `, el("code", {}, a.digest))),
          )
        : el("p", { class: "muted" }, "None."),
    );
  }

  root.append(el("h2", {}, "Descriptors"), box);
  return { show: load };
}
