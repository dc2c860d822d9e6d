// The live view: committed events as they arrive over Server-Sent Events (GET /v1/subscribe),
// filtered by a triple pattern, with a rate sparkline. Pause closes the stream; resume reopens
// it from just after the last event seen, so nothing is missed or shown twice.

import { tokenParam, request, askToken, getText } from "../api.js";
import { parseNote, parseCheckpointText } from "../verify.js";
import { el, clear, field } from "../dom.js";
import { sparkline } from "../chart.js";

/** Events kept on screen (oldest dropped first). */
const EVENTS_SHOWN_MAX = 500;
/** Seconds of history in the rate sparkline. */
const RATE_WINDOW_SECONDS = 60;

export function liveView(root) {
  const inputs = {
    s: el("input", { name: "s", placeholder: "any subject, e.g. <https://example.org/s>" }),
    p: el("input", { name: "p", placeholder: "any predicate" }),
    o: el("input", { name: "o", placeholder: 'any object, e.g. "42" or <…>' }),
    op: el(
      "select",
      { name: "op" },
      el("option", { value: "" }, "add or remove"),
      el("option", { value: "add" }, "add"),
      el("option", { value: "remove" }, "remove"),
    ),
  };
  const apply = el("button", { type: "submit", class: "primary" }, "Watch");
  const pause = el("button", { type: "button", disabled: true }, "Pause");
  const status = el("p", { class: "muted", role: "status", id: "live-status" }, "not connected");
  const rateBox = el("div", { class: "rate" });
  const list = el("ol", { class: "events", reversed: true, "aria-label": "Events, newest first" });

  let source = null;
  let lastSeq = null;
  /** Where the stream (re)starts: one past the last event seen, or the log size when opened. */
  let nextFrom = null;
  let paused = false;
  let started = false;
  const buckets = new Array(RATE_WINDOW_SECONDS).fill(0);
  let bucketSecond = Math.floor(Date.now() / 1000);

  function tick() {
    const now = Math.floor(Date.now() / 1000);
    const shift = Math.min(RATE_WINDOW_SECONDS, now - bucketSecond);
    for (let i = 0; i < shift; i++) {
      buckets.shift();
      buckets.push(0);
    }
    bucketSecond = now;
  }

  function drawRate() {
    tick();
    const last = buckets.slice(-10).reduce((a, b) => a + b, 0) / 10;
    clear(
      rateBox,
      sparkline(buckets, `events per second over the last ${RATE_WINDOW_SECONDS} s`),
      el("span", {}, ` ${last.toFixed(1)} events/s (10 s average)`),
    );
  }
  setInterval(drawRate, 1000);

  function url() {
    const params = new URLSearchParams();
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) params.set(k, input.value.trim());
    if (nextFrom !== null) params.set("from", String(nextFrom));
    const t = tokenParam();
    return `/v1/subscribe?${params}${t ? `&${t}` : ""}`;
  }

  function row(ev) {
    return el(
      "li",
      { class: `event ${ev.op}` },
      el("span", { class: "seq" }, `#${ev.seq}`),
      el("span", { class: "op" }, ev.op === "add" ? "+" : "−"),
      el("code", {}, `${ev.s} ${ev.p} ${ev.o}${ev.g ? ` ${ev.g}` : ""}`),
    );
  }

  function onMessage(message) {
    let ev;
    try {
      ev = JSON.parse(message.data);
    } catch {
      return;
    }
    lastSeq = ev.seq;
    nextFrom = ev.seq + 1;
    tick();
    buckets[buckets.length - 1] += 1;
    list.prepend(row(ev));
    while (list.children.length > EVENTS_SHOWN_MAX) list.lastElementChild.remove();
    status.textContent = `watching; last event #${lastSeq}`;
  }

  /** EventSource hides the status of a refused stream: ask once more to learn why. */
  async function explainFailure(target) {
    try {
      await request(`${target}&limit=0`, { headers: { Accept: "text/event-stream" } });
      status.textContent = "connection lost; retrying";
    } catch (e) {
      close();
      pause.disabled = true;
      status.textContent = `stream refused: ${e.message}`;
      if (e.status === 401 && (await askToken("The event stream needs a token."))) connect();
    }
  }

  /** The log size now, so a pause before the first event still resumes where it began. */
  async function logSize() {
    try {
      return parseCheckpointText(parseNote(await getText("/v1/log/checkpoint")).text).size;
    } catch {
      return null; // the stream starts at "now"
    }
  }

  async function connect() {
    close();
    if (nextFrom === null) nextFrom = await logSize();
    const target = url();
    source = new EventSource(target);
    status.textContent = "connecting…";
    source.addEventListener("open", () => {
      status.textContent = lastSeq === null ? "watching; waiting for events" : `watching from event #${nextFrom}`;
      status.dataset.state = "open";
    });
    source.addEventListener("message", onMessage);
    source.addEventListener("error", () => {
      status.dataset.state = "error";
      if (source && source.readyState === EventSource.CLOSED) explainFailure(target);
    });
    pause.disabled = false;
    pause.textContent = "Pause";
    paused = false;
  }

  function close() {
    if (source) source.close();
    source = null;
    delete status.dataset.state;
  }

  const form = el(
    "form",
    { class: "pattern" },
    field("Subject", {}, inputs.s),
    field("Predicate", {}, inputs.p),
    field("Object", {}, inputs.o),
    field("Operation", {}, inputs.op),
    el("div", { class: "toolbar" }, apply, pause),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    lastSeq = null; // a new pattern starts now
    nextFrom = null;
    list.replaceChildren();
    connect();
  });
  pause.addEventListener("click", () => {
    if (paused) {
      connect();
    } else {
      close();
      paused = true;
      pause.textContent = "Resume";
      status.textContent = `paused; resume continues from event #${nextFrom ?? "(now)"}`;
    }
  });

  root.append(
    el("h2", {}, "Live events"),
    el("p", { class: "muted" }, "Terms in N-Triples syntax; an empty field matches anything."),
    form,
    status,
    rateBox,
    list,
  );
  drawRate();
  return {
    show() {
      if (!started) {
        started = true;
        connect();
      }
    },
  };
}
