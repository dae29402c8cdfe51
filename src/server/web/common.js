// lockstep console: what every page shares (served from the binary at
// /ui/common.js). Plain ES module, no framework.
//  - the token: ?token=TOKEN once, kept for the tab (sessionStorage); sent as
//    "Authorization: Bearer" with every fetch, and as ?token= only where a
//    browser cannot set headers (EventSource, <img>, downloads)
//  - api(): fetch JSON under /api/v1, errors as Error(message of the server)
//  - nav(): the header with the pages
//  - feed(): the live feed (server-sent events, /api/v1/feed): the rig's
//    per-second statistics and its events, reconnecting by itself
"use strict";

const q = new URLSearchParams(location.search);
if (q.get("token")) sessionStorage.setItem("lockstep-token", q.get("token"));
export const token = q.get("token") || sessionStorage.getItem("lockstep-token") || null;
export const params = q;

export function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

export function authHeaders(extra = {}) {
  return token ? { ...extra, Authorization: "Bearer " + token } : { ...extra };
}

export async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: authHeaders(opts.headers || {}) });
  const type = r.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const e = new Error((body && body.error) || (r.status + " " + r.statusText));
    e.status = r.status;
    throw e;
  }
  return body;
}

export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

const PAGES = [["/", "Live"], ["/health", "Health"], ["/events", "Events"], ["/recordings", "Recordings"],
  ["/config", "Config"]];

// The header: the pages (the current one marked) and a status line.
export function nav() {
  const h = document.getElementById("nav");
  h.replaceChildren(el("b", { class: "brand" }, "lockstep"),
    ...PAGES.map(([href, name]) => el("a", { href: withToken(href), class: location.pathname === href ? "on" : null }, name)),
    el("span", { id: "rigline", class: "dim" }),
    el("span", { id: "problem", class: "bad" }));
}

// A one-line problem in the header ("" clears it).
export function problem(text) {
  const p = document.getElementById("problem");
  if (p) p.textContent = text || "";
}

// The live feed: onStats(record) once a second, onEvent(event) as they
// happen. Returns the EventSource.
export function feed(onStats, onEvent) {
  const es = new EventSource(withToken("/api/v1/feed"));
  es.addEventListener("stats", m => { problem(""); onStats && onStats(JSON.parse(m.data)); });
  es.addEventListener("event", m => onEvent && onEvent(JSON.parse(m.data)));
  es.onerror = () => problem("live feed lost: reconnecting…");
  return es;
}

export const fmt = {
  n(v) { return v === undefined || v === null ? "–" : Number(v).toLocaleString("en"); },
  f(v, d = 1) { return v === undefined || v === null ? "–" : Number(v).toFixed(d); },
  bytes(v) {
    if (v === undefined || v === null) return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : v) + " " + u[i];
  },
  time(ns) { return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 23); },
  dur(s) {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  },
};

// The rig's rate and epoch, from /api/v1/status: slot n's time is
// epoch + n * den / num seconds.
export async function rig() {
  const st = await api("/api/v1/status");
  st.periodNs = 1e9 * st.rate.den / st.rate.num;
  st.slotTimeNs = n => st.epoch_ns + n * st.periodNs;
  st.slotAt = ns => Math.round((ns - st.epoch_ns) / st.periodNs);
  const line = document.getElementById("rigline");
  if (line) line.textContent = st.cameras.length + " camera" + (st.cameras.length === 1 ? "" : "s") + " · " +
    (st.rate.num / st.rate.den).toFixed(st.rate.den === 1 ? 0 : 2) + " fps · lockstep " + st.lockstep;
  return st;
}
