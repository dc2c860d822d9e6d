// Requests to the server that served this page, and nowhere else: every URL is a path on the
// page's own origin (the CSP `default-src 'self'` enforces the same).
//
// Tokens: when the server answers 401, the user is asked once for a bearer token, which is kept
// in sessionStorage (gone when the tab closes) and sent with every later request. EventSource
// cannot send headers, so streams carry it as `access_token` (RFC 6750 §2.3), as the server allows.

import { el } from "./dom.js";

const TOKEN_KEY = "ledgraph.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The token as a query parameter for EventSource URLs (empty when there is none). */
export function tokenParam() {
  const t = token();
  return t ? `access_token=${encodeURIComponent(t)}` : "";
}

let pendingPrompt = null;

/** Asks the user for a token (one dialog at a time); resolves false when they cancel. */
export function askToken(message) {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById("token-dialog");
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("input");
  dialog.querySelector(".token-message").textContent = message;
  input.value = "";
  pendingPrompt = new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      pendingPrompt = null;
      resolve(ok);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const value = input.value.trim();
      if (e.submitter && e.submitter.value === "cancel") return done(false);
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      done(true);
    };
    const onClose = () => done(false);
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    input.focus();
  });
  return pendingPrompt;
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An HTTP error with the server's message (`{error, position}` bodies) and the parsed body. */
export class HttpError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * fetch() on our origin with the bearer token; on 401 asks for a token and retries once per
 * answer. Returns the Response for 2xx; throws HttpError otherwise (the body parsed when JSON).
 */
export async function request(path, options = {}) {
  if (!path.startsWith("/")) throw new Error(`not a path on this origin: ${path}`);
  for (;;) {
    const headers = new Headers(options.headers || {});
    const t = token();
    if (t) headers.set("Authorization", `Bearer ${t}`);
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) {
      const why = t ? "The token was refused." : "This server needs a token.";
      if (t) forgetToken();
      if (await askToken(`${why} Enter a bearer token (kept for this tab only).`)) continue;
    }
    if (response.ok) return response;
    let body = null;
    let message = `${response.status} ${response.statusText}`;
    const text = await response.text();
    try {
      body = JSON.parse(text);
      if (body && body.error) {
        message = body.error + (body.position ? ` (at ${body.position})` : "");
      }
    } catch {
      if (text) message = `${message}: ${text.slice(0, 500)}`;
    }
    throw new HttpError(response.status, message, body);
  }
}

export async function getJson(path) {
  return (await request(path, { headers: { Accept: "application/json" } })).json();
}

export async function getText(path) {
  return (await request(path)).text();
}

/** An error paragraph for a view. */
export function errorBox(e) {
  return el("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e));
}
