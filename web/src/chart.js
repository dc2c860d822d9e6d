// Hand-drawn SVG charts: a sparkline and a small multi-series line chart. A chart library would
// weigh more than everything here; these need only polylines, axes and a legend.

import { svg, el } from "./dom.js";

function points(values, width, height, max) {
  const n = values.length;
  const step = n > 1 ? width / (n - 1) : 0;
  return values
    .map((v, i) => {
      const y = max > 0 ? height - (Math.max(0, v) / max) * height : height;
      return `${(i * step).toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

/** A sparkline of `values` (oldest first), with an accessible label. */
export function sparkline(values, label, width = 240, height = 40) {
  const max = Math.max(1, ...values);
  return svg(
    "svg",
    {
      class: "sparkline",
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": label,
    },
    svg("polyline", {
      points: points(values, width, height - 2, max),
      fill: "none",
      stroke: "currentColor",
      "stroke-width": 1.5,
    }),
  );
}

const COLORS = ["#1f5fa8", "#b3261e", "#2e7d32", "#6a3fa0"];

/**
 * A line chart: `series` = [{name, values}] sharing the x axis (samples, oldest first); `unit`
 * labels the y axis maximum.
 */
export function lineChart(title, series, unit, width = 420, height = 140) {
  const pad = { left: 56, bottom: 18, top: 8, right: 8 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const top = max > 0 ? niceCeil(max) : 1;
  const latest = series
    .map((s) => `${s.name} ${formatValue(s.values[s.values.length - 1], unit)}`)
    .join(", ");
  const chart = svg(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": `${title}: latest ${latest}`,
    },
    svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + h, stroke: "#595959" }),
    svg("line", {
      x1: pad.left,
      y1: pad.top + h,
      x2: pad.left + w,
      y2: pad.top + h,
      stroke: "#595959",
    }),
    svg("text", { x: pad.left - 4, y: pad.top + 10, "text-anchor": "end", class: "axis" }, formatValue(top, unit)),
    svg("text", { x: pad.left - 4, y: pad.top + h, "text-anchor": "end", class: "axis" }, "0"),
    svg("text", { x: pad.left + w, y: height - 4, "text-anchor": "end", class: "axis" }, "now"),
    svg(
      "g",
      { transform: `translate(${pad.left},${pad.top})` },
      series.map((s, i) => {
        const values = s.values.map((v) => (Number.isFinite(v) ? v : 0));
        const line = points(values, w, h, top);
        const last = line.split(" ").pop().split(",");
        // A dot on the newest sample, so a single sample still shows.
        return svg(
          "g",
          {},
          svg("polyline", { points: line, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2 }),
          values.length ? svg("circle", { cx: last[0], cy: last[1], r: 3, fill: COLORS[i % COLORS.length] }) : null,
        );
      }),
    ),
  );
  const legend = el(
    "ul",
    { class: "legend" },
    series.map((s, i) =>
      el(
        "li",
        {},
        el("span", { class: `swatch swatch-${i % COLORS.length}`, "aria-hidden": "true" }),
        `${s.name}: ${formatValue(s.values[s.values.length - 1], unit)}`,
      ),
    ),
  );
  return el("figure", { class: "chart" }, el("figcaption", {}, title), chart, legend);
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function formatValue(v, unit) {
  if (!Number.isFinite(v)) return "–";
  if (unit === "s") {
    if (v < 1e-3) return `${(v * 1e6).toFixed(0)} µs`;
    if (v < 1) return `${(v * 1e3).toFixed(v < 0.01 ? 2 : 1)} ms`;
    return `${v.toFixed(2)} s`;
  }
  const digits = v !== 0 && Math.abs(v) < 10 ? 1 : 0;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
}
