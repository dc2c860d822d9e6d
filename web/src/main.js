// The ledgraph web UI: one page, views chosen by the URL fragment (#/query, #/live, #/log,
// #/metrics, #/descriptors, #/publish) so the server only serves `/` and `/assets/`. Each view
// is built once and kept (the live stream keeps running while another view is shown).

import { queryView } from "./views/query.js";
import { liveView } from "./views/live.js";
import { logView } from "./views/log.js";
import { metricsView } from "./views/metrics.js";
import { descriptorsView } from "./views/descriptors.js";
import { publishView } from "./views/publish.js";
import { forgetToken, token } from "./api.js";

const VIEWS = {
  query: ["Query", queryView],
  live: ["Live", liveView],
  log: ["Log", logView],
  metrics: ["Metrics", metricsView],
  descriptors: ["Descriptors", descriptorsView],
  publish: ["Publish", publishView],
};

const built = {};
let shown = null;

function route() {
  const name = (location.hash.match(/^#\/([a-z]+)/) || [])[1];
  const target = VIEWS[name] ? name : "query";
  if (shown === target) return;
  if (shown && built[shown].api.hide) built[shown].api.hide();
  for (const [key, view] of Object.entries(built)) view.section.hidden = key !== target;
  if (!built[target]) {
    const section = document.createElement("section");
    section.id = `view-${target}`;
    section.className = "view";
    document.getElementById("main").append(section);
    built[target] = { section, api: VIEWS[target][1](section) || {} };
  }
  built[target].section.hidden = false;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === target) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${VIEWS[target][0]} · ledgraph`;
  shown = target;
  if (built[target].api.show) built[target].api.show();
}

function init() {
  const nav = document.getElementById("nav");
  for (const [key, [label]] of Object.entries(VIEWS)) {
    const a = document.createElement("a");
    a.href = `#/${key}`;
    a.dataset.view = key;
    a.textContent = label;
    const li = document.createElement("li");
    li.append(a);
    nav.append(li);
  }
  const signOut = document.getElementById("forget-token");
  const syncSignOut = () => (signOut.hidden = !token());
  signOut.addEventListener("click", () => {
    forgetToken();
    syncSignOut();
  });
  setInterval(syncSignOut, 2000);
  syncSignOut();
  window.addEventListener("hashchange", route);
  route();
  document.body.dataset.ready = "true";
}

init();
