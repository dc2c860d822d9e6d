// A few DOM helpers. Text always goes in as text nodes (never innerHTML), so terms and messages
// from the server cannot inject markup; no inline `style` attributes (the CSP forbids them).

const SVG_NS = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** `el("p", {class: "x"}, "text", childNode)` */
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(node, ...children) {
  node.replaceChildren();
  return build(node, {}, children);
}

/** A ✓ / ✗ verdict with its reason, announced to screen readers. */
export function verdict(ok, reason) {
  return el(
    "p",
    { class: ok ? "verdict ok" : "verdict bad", role: "status" },
    el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"),
    " ",
    el("strong", {}, ok ? "verified" : "not verified"),
    ": ",
    reason,
  );
}

/** A labelled input: `field("Subject", {name: "s"})`. */
export function field(label, attrs, control = el("input", attrs)) {
  return el("label", { class: "field" }, el("span", {}, label), control);
}

export function fmtNumber(n, digits = 0) {
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";
}
