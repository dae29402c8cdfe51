// lockstep console: recordings (served at /ui/recordings.js for /recordings).
//  - the timeline of every camera from the index (GET /api/v1/recordings):
//    segments, protected (clip) segments, slots a camera had no frame, gaps;
//    click to go to a slot, drag to choose a window, wheel to zoom
//  - the synchronized player: one clock, one slider, one play/pause and
//    speed for every camera. For each slot it shows, it fetches every
//    camera's picture (GET /api/v1/recordings/CAMERA/SLOT.jpg) at once and
//    paints the grid only when all have answered, so the tiles never show
//    different slots; a camera without a frame there shows NO DATA (known
//    from the index, so no request is made for it). Playing, the clock runs
//    at speed x rate and slots that cannot be fetched in time are skipped.
//  - clip export of the chosen window (POST /api/v1/clips) and the clips made
//  - window.lsPlayer for tests and benchmarks (see the object below)
"use strict";
import { api, authHeaders, el, fmt, nav, problem, rig, withToken } from "/ui/common.js";

const IN_FLIGHT = 2;      // slot sets fetched at once while playing
const REFRESH_MS = 5000;  // the index again (a rig that is recording grows)
const $ = id => document.getElementById(id);

const P = window.lsPlayer = {
  slot: null,           // the slot the player is at (asked for; shown once every tile has it)
  shownSlot: null,      // the slot the grid shows now (every tile: the same)
  shown: {},            // camera -> slot its tile shows, or null (NO DATA)
  playing: false,
  speed: 1,
  first: null, last: null,
  cameras: [],
  painted: 0,           // grids painted
  lastShownAt: null,    // performance.now() of the last paint
  seekAt: null,         // performance.now() of the last seek (click, slider, seek())
  skipped: 0,           // slots passed over while playing (not fetched in time)
  fetchMs: [],          // time to fetch whole sets, the last 50
  errors: [],
  selection: null,      // [first, last] or null
  tiles: {},            // camera -> {canvas, box: {x, y, w, h} of the picture in it}
  seek: n => seek(n),
  play: () => play(),
  pause: () => pause(),
  setSpeed: x => setSpeed(x),
  clock: () => (P.playing ? Math.min(P.last, clockAt(performance.now())) : P.slot), // the slot the clock is at
  xOfSlot: n => xOfSlot(n),   // client x of slot n on the timeline
  timelineY: () => $("timeline").getBoundingClientRect().top + AXIS_H + 2,
  exportClip: (a, b) => exportClip(a, b),
};

let st = null;          // /api/v1/status with slotTimeNs (common.js rig())
let rec = null;         // /api/v1/recordings
let view = null;        // [v0, v1]: the slots the timeline shows
let wanted = null;      // paused: the slot asked for while a set is in flight
let busy = false;       // paused: a set is in flight
let clock = null;       // playing: {t0: performance.now(), n0: slot at t0}
const inflight = new Map(); // playing: slot -> promise
const ready = new Map();    // playing: slot -> fetched set, waiting for its time
let lastAsked = null;       // playing: the last slot asked for
let gen = 0;                // playing: +1 at each seek; sets asked before it are dropped
let floor = -Infinity;      // playing: sets at or before this slot are too late
let estMs = 80;             // a set's fetch time, running estimate

function note(text) {
  problem(text);
  if (text) P.errors.push(text);
}

// ---- what the index says ----

function parseRanges(list) { return (list || []).map(([a, b]) => [a, b]); }
function inRanges(ranges, n) {
  for (const [a, b] of ranges) if (n >= a && n <= b) return true;
  return false;
}
// whether camera @c has a picture at slot @n: in a readable segment and not a repeat
function hasFrame(c, n) {
  const cam = rec.byName[c];
  if (!cam) return false;
  let inSeg = false;
  for (const s of cam.segments)
    if (n >= s.first_slot && n <= s.last_slot && (s.state === "complete" || s.state === "protected")) { inSeg = true; break; }
  return inSeg && !inRanges(cam.missingR, n);
}

async function loadIndex() {
  const r = await api("/api/v1/recordings");
  r.byName = {};
  for (const c of r.cameras) {
    c.missingR = parseRanges(c.missing);
    r.byName[c.name] = c;
  }
  rec = r;
  P.cameras = r.cameras.map(c => c.name);
  const slider = $("slider");
  // a view of the whole recording grows with it, unless a press is under way
  const whole = !view || (view[0] === P.first && view[1] === P.last && !down);
  P.first = r.first_slot;
  P.last = r.last_slot;
  if (P.first !== null) {
    slider.min = P.first;
    slider.max = P.last;
    if (whole) view = [P.first, P.last];
    $("range").textContent = "slots " + P.first + "–" + P.last + " · " + fmt.time(st.slotTimeNs(P.first)) +
      " – " + fmt.time(st.slotTimeNs(P.last + 1)) + " UTC · " + fmt.dur((P.last - P.first + 1) * st.periodNs / 1e9);
  } else {
    $("range").textContent = "nothing recorded yet";
  }
}

// ---- the grid ----

function buildGrid() {
  const grid = $("grid");
  if (Object.keys(P.tiles).join() === P.cameras.join()) return;
  grid.replaceChildren();
  P.tiles = {};
  const n = P.cameras.length;
  grid.style.setProperty("--cols", n <= 1 ? 1 : n <= 4 ? 2 : n <= 9 ? 3 : 4);
  for (const c of P.cameras) {
    const canvas = el("canvas");
    const label = el("span", { class: "dim" });
    grid.append(el("div", { class: "tile" }, canvas, el("span", { class: "name" }, c, label)));
    P.tiles[c] = { canvas, label, box: null };
    P.shown[c] = null;
  }
  sizeTiles();
}

function sizeTiles() {
  const dpr = window.devicePixelRatio || 1;
  // the whole grid in the window: as wide as the rows' height allows
  const grid = $("grid"), n = P.cameras.length;
  const cols = Number(grid.style.getPropertyValue("--cols")) || 1, rows = Math.ceil(n / cols);
  const avail = window.innerHeight - (grid.getBoundingClientRect().top + window.scrollY) - 16;
  const tileW = Math.max(360, (avail - 8 * (rows - 1)) / rows * 16 / 9); // never too small to see
  grid.style.maxWidth = Math.round(cols * tileW + 8 * (cols - 1)) + "px";
  for (const t of Object.values(P.tiles)) {
    const r = t.canvas.getBoundingClientRect();
    t.canvas.width = Math.max(16, Math.round(r.width * dpr));
    t.canvas.height = Math.max(16, Math.round(r.height * dpr));
  }
}

// the width to ask pictures at: the tiles' (a multiple of 16)
function pictureWidth() {
  const t = Object.values(P.tiles)[0];
  return t ? Math.min(7680, Math.max(16, Math.ceil(t.canvas.width / 16) * 16)) : 640;
}

// every camera's picture of slot @n: {camera: ImageBitmap | null}
async function fetchSet(n) {
  const t0 = performance.now();
  const w = pictureWidth();
  const out = {};
  await Promise.all(P.cameras.map(async c => {
    out[c] = null;
    if (!hasFrame(c, n)) return;
    try {
      const r = await fetch("/api/v1/recordings/" + encodeURIComponent(c) + "/" + n + ".jpg?w=" + w,
        { headers: authHeaders() });
      if (r.ok) out[c] = await createImageBitmap(await r.blob());
      else if (r.status !== 404) note(c + " slot " + n + ": " + ((await r.json().catch(() => ({}))).error || r.status));
    } catch (e) {
      note(c + " slot " + n + ": " + e.message);
    }
  }));
  P.fetchMs.push(performance.now() - t0);
  if (P.fetchMs.length > 50) P.fetchMs.shift();
  estMs = 0.8 * estMs + 0.2 * (performance.now() - t0);
  return out;
}

function dropSet(set) {
  for (const b of Object.values(set || {})) if (b) b.close();
}

// paints every tile from @set (slot @n) in one go
function paint(n, set) {
  for (const c of P.cameras) {
    const t = P.tiles[c];
    const g = t.canvas.getContext("2d");
    const W = t.canvas.width, H = t.canvas.height;
    g.fillStyle = "#000";
    g.fillRect(0, 0, W, H);
    const b = set[c];
    if (b) {
      const s = Math.min(W / b.width, H / b.height);
      const w = b.width * s, h = b.height * s;
      t.box = { x: (W - w) / 2, y: (H - h) / 2, w, h };
      g.drawImage(b, t.box.x, t.box.y, w, h);
      P.shown[c] = n;
      t.label.textContent = "slot " + n;
    } else {
      t.box = null;
      g.fillStyle = "#1b1e23";
      g.fillRect(0, 0, W, H);
      g.fillStyle = "#ff6b6b";
      g.font = "600 " + Math.round(H / 9) + "px system-ui, sans-serif";
      g.textAlign = "center";
      g.textBaseline = "middle";
      g.fillText("NO DATA", W / 2, H / 2);
      P.shown[c] = null;
      t.label.textContent = "no frame at slot " + n;
    }
  }
  dropSet(set);
  P.shownSlot = n;
  P.painted++;
  P.lastShownAt = performance.now();
  showClock();
  drawTimeline();
}

function showClock() {
  const n = P.shownSlot;
  if (n === null) return;
  $("clock").replaceChildren("slot ", el("b", {}, String(n)), " · ", el("b", {}, fmt.time(st.slotTimeNs(n)) + " UTC"),
    P.playing ? " · playing " + P.speed + "×" + (P.skipped ? " (" + P.skipped + " slots skipped)" : "") : "");
  if (document.activeElement !== $("slider")) $("slider").value = n;
}

// ---- paused: seek ----

function clamp(n) { return Math.max(P.first, Math.min(P.last, Math.round(n))); }

function seek(n) {
  if (P.first === null) return;
  n = clamp(n);
  P.seekAt = performance.now();
  P.slot = n;
  if (P.playing) {
    clock = { t0: performance.now(), n0: n };
    for (const s of ready.values()) dropSet(s);
    ready.clear();
    lastAsked = n - 1;
    floor = n - 1;
    gen++;
    return;
  }
  wanted = n;
  pump();
}

// one set in flight while paused; the latest slot asked for goes next
async function pump() {
  if (busy || wanted === null) return;
  const n = wanted;
  wanted = null;
  busy = true;
  const set = await fetchSet(n);
  busy = false;
  if (!P.playing && wanted === null) paint(n, set);
  else dropSet(set);
  pump();
}

// ---- playing ----

function clockAt(t) { return clock.n0 + Math.floor((t - clock.t0) / 1000 * st.rate.num / st.rate.den * P.speed); }

function play() {
  if (P.first === null || P.playing) return;
  if (P.slot === null || P.slot >= P.last) P.slot = P.first;
  P.playing = true;
  P.skipped = 0;
  clock = { t0: performance.now(), n0: P.slot };
  lastAsked = P.slot - 1;
  floor = P.slot - 1;
  gen++;
  $("play").textContent = "❚❚ Pause";
  requestAnimationFrame(tick);
}

function pause() {
  if (!P.playing) return;
  P.playing = false;
  $("play").textContent = "▶ Play";
  for (const s of ready.values()) dropSet(s);
  ready.clear();
  P.slot = P.shownSlot;
  showClock();
}

function setSpeed(x) {
  x = Number(x);
  if (![0.25, 0.5, 1, 2, 4].includes(x)) throw new Error("speed must be 0.25, 0.5, 1, 2 or 4");
  if (P.playing) clock = { t0: performance.now(), n0: clockAt(performance.now()) };
  P.speed = x;
  $("speed").value = String(x);
}

function tick() {
  if (!P.playing) return;
  const now = performance.now();
  let t = clockAt(now);
  if (t > P.last) t = P.last;
  // the newest set whose time has come
  let best = null;
  for (const n of ready.keys()) if (n <= t && (best === null || n > best)) best = n;
  if (best !== null) {
    const set = ready.get(best);
    for (const n of [...ready.keys()]) if (n <= best) { if (n !== best) dropSet(ready.get(n)); ready.delete(n); }
    if (floor !== -Infinity && best > floor + 1) P.skipped += best - floor - 1;
    floor = best;
    P.slot = best;
    paint(best, set);
  }
  if (P.shownSlot === P.last && clockAt(now) >= P.last) {
    pause();
    return;
  }
  // ask ahead: the slot the clock will be at when the set arrives
  while (inflight.size < IN_FLIGHT) {
    let n = Math.max(clockAt(now + estMs), lastAsked + 1);
    if (n > P.last) break;
    lastAsked = n;
    const g = gen;
    const p = fetchSet(n).then(set => {
      inflight.delete(n);
      if (P.playing && g === gen && n > floor) ready.set(n, set);
      else dropSet(set);
    });
    inflight.set(n, p);
  }
  requestAnimationFrame(tick);
}

// ---- the timeline ----

const LABEL_W = 70, AXIS_H = 18, ROW_H = 18, ROW_GAP = 5;
const COL = { seg: "#2f7d5b", prot: "#c89632", quar: "#555b66", gap: "#3b2327", miss: "#ff6b6b",
  sel: "rgba(108,182,255,.35)", cursor: "#ffffff", axis: "#8b94a0", bg: "#15181c" };

function tlGeom() {
  const c = $("timeline");
  const r = c.getBoundingClientRect();
  return { c, r, W: r.width - LABEL_W - 8 };
}
function xOf(n, g) { return LABEL_W + (n - view[0]) / (view[1] - view[0] + 1) * g.W; }
function slotOfX(x, g) { return view[0] + (x - LABEL_W) / g.W * (view[1] - view[0] + 1); }
function xOfSlot(n) {
  const g = tlGeom();
  return g.r.left + xOf(n + 0.5, g);
}

function drawTimeline() {
  if (!rec) return;
  const g = tlGeom();
  const dpr = window.devicePixelRatio || 1;
  const H = AXIS_H + P.cameras.length * (ROW_H + ROW_GAP) + 4;
  if (g.c.height !== Math.round(H * dpr) || g.c.width !== Math.round(g.r.width * dpr)) {
    g.c.style.height = H + "px";
    g.c.width = Math.round(g.r.width * dpr);
    g.c.height = Math.round(H * dpr);
  }
  const x = g.c.getContext("2d");
  x.setTransform(dpr, 0, 0, dpr, 0, 0);
  x.fillStyle = COL.bg;
  x.fillRect(0, 0, g.r.width, H);
  if (P.first === null) return;
  const X = n => xOf(n, g);
  const span = (a, b, y, h, col) => {
    const x0 = Math.max(LABEL_W, X(a)), x1 = Math.min(LABEL_W + g.W, X(b + 1));
    if (x1 < LABEL_W || x0 > LABEL_W + g.W) return;
    x.fillStyle = col;
    x.fillRect(x0, y, Math.max(1, x1 - x0), h);
  };
  // axis: about one label per 110 px, on whole seconds or more
  x.font = "11px system-ui, sans-serif";
  x.fillStyle = COL.axis;
  x.textBaseline = "top";
  const secs = (view[1] - view[0] + 1) * st.periodNs / 1e9;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
  const step = steps.find(s => secs / s <= g.W / 110) || 86400;
  const t0 = st.slotTimeNs(view[0]) / 1e9, t1 = st.slotTimeNs(view[1] + 1) / 1e9;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const px = X(st.slotAt(t * 1e9));
    x.fillRect(px, AXIS_H - 5, 1, 5);
    const label = new Date(t * 1000).toISOString().slice(11, step < 1 ? 22 : 19);
    x.fillText(label, px + 3, 2);
  }
  P.cameras.forEach((name, i) => {
    const y = AXIS_H + i * (ROW_H + ROW_GAP);
    const cam = rec.byName[name];
    x.fillStyle = "#dfe3e8";
    x.textBaseline = "middle";
    x.fillText(name, 4, y + ROW_H / 2, LABEL_W - 8);
    span(P.first, P.last, y, ROW_H, COL.gap);
    for (const s of cam.segments)
      span(s.first_slot, s.last_slot, y, ROW_H, s.state === "protected" ? COL.prot : s.state === "quarantined" ? COL.quar : COL.seg);
    // segment starts, where they are far enough apart to see
    if (g.W / (view[1] - view[0] + 1) * 30 >= 3)
      for (const s of cam.segments) span(s.first_slot, s.first_slot, y, ROW_H, "rgba(0,0,0,.45)");
    for (const [a, b] of cam.missingR) span(a, b, y + 3, ROW_H - 6, COL.miss);
  });
  if (P.selection) span(P.selection[0], P.selection[1], AXIS_H - 2, H - AXIS_H, COL.sel);
  if (P.shownSlot !== null) {
    const px = X(P.shownSlot + 0.5);
    if (px >= LABEL_W && px <= LABEL_W + g.W) {
      x.fillStyle = COL.cursor;
      x.fillRect(px - 0.5, AXIS_H - 4, 1.5, H - AXIS_H + 4);
      x.beginPath();
      x.moveTo(px - 5, AXIS_H - 6);
      x.lineTo(px + 5, AXIS_H - 6);
      x.lineTo(px, AXIS_H);
      x.fill();
    }
  }
}

function setSelection(sel) {
  P.selection = sel;
  $("export").disabled = !sel;
  $("sel").textContent = sel ? "window: slots " + sel[0] + "–" + sel[1] + " (" +
    fmt.f((sel[1] - sel[0] + 1) * st.periodNs / 1e9, 2) + " s)" : "drag on the timeline to choose a window";
  drawTimeline();
}

let down = null; // a press on the timeline: {x, t, dragging}

function timelineEvents() {
  const c = $("timeline");
  c.addEventListener("mousedown", e => {
    if (P.first === null || e.button !== 0) return;
    const g = tlGeom();
    down = { x: e.clientX - g.r.left, t: performance.now(), dragging: false };
    e.preventDefault();
  });
  window.addEventListener("mousemove", e => {
    if (!down) return;
    const g = tlGeom();
    const xx = e.clientX - g.r.left;
    if (!down.dragging && Math.abs(xx - down.x) < 4) return;
    down.dragging = true;
    const a = clamp(Math.floor(slotOfX(Math.min(down.x, xx), g))), b = clamp(Math.floor(slotOfX(Math.max(down.x, xx), g)));
    setSelection([a, b]);
  });
  window.addEventListener("mouseup", e => {
    if (!down) return;
    const d = down;
    down = null;
    if (d.dragging) return;
    const g = tlGeom();
    seek(Math.floor(slotOfX(d.x, g)));
    P.seekAt = d.t; // from the press: what a person feels
  });
  c.addEventListener("wheel", e => {
    if (P.first === null) return;
    e.preventDefault();
    const g = tlGeom();
    const at = slotOfX(e.clientX - g.r.left, g);
    const k = e.deltaY > 0 ? 1.25 : 0.8;
    const span = Math.max(30, Math.min(P.last - P.first + 1, (view[1] - view[0] + 1) * k));
    let v0 = at - (at - view[0]) * span / (view[1] - view[0] + 1);
    v0 = Math.max(P.first, Math.min(P.last + 1 - span, v0));
    view = [v0, v0 + span - 1];
    drawTimeline();
  }, { passive: false });
  c.addEventListener("dblclick", () => { view = [P.first, P.last]; drawTimeline(); });
}

// ---- clips ----

function clipLinks(clip) {
  const links = [];
  if (clip.files.zip) links.push(el("a", { href: withToken(clip.files.zip), download: "" }, "zip"));
  for (const [cam, url] of Object.entries(clip.files.mp4))
    links.push(el("a", { href: withToken(url), target: "_blank" }, cam + ".mp4"));
  links.push(el("a", { href: withToken(clip.files.manifest), target: "_blank" }, "manifest.json"));
  return links;
}

async function exportClip(a, b) {
  if (a === undefined) [a, b] = P.selection || [];
  if (a === undefined) return null;
  $("export").disabled = true;
  $("export-state").textContent = "exporting slots " + a + "–" + b + "…";
  $("export-out").replaceChildren();
  try {
    const clip = await api("/api/v1/clips", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: a, to: b }) });
    $("export-state").textContent = "clip " + clip.id + ": slots " + clip.first_slot + "–" + clip.last_slot +
      (clip.first_slot < a ? " (from the keyframe before " + a + ")" : "") + " ·";
    $("export-out").replaceChildren(...clipLinks(clip));
    await loadIndex();
    drawTimeline();
    loadClips();
    return clip;
  } catch (e) {
    $("export-state").textContent = "";
    note("export: " + e.message);
    return null;
  } finally {
    $("export").disabled = !P.selection;
  }
}

async function loadClips() {
  const r = await api("/api/v1/clips");
  const box = $("clips");
  if (!r.clips.length) { box.textContent = "none yet"; return; }
  box.classList.remove("dim");
  box.replaceChildren(el("table", {},
    el("tr", {}, el("th", {}, "clip"), el("th", {}, "slots"), el("th", {}, "from (UTC)"), el("th", {}, "cameras"),
      el("th", {}, "files")),
    ...r.clips.map(c => el("tr", {}, el("td", {}, c.id), el("td", {}, c.first_slot + "–" + c.last_slot),
      el("td", {}, fmt.time(st.slotTimeNs(c.first_slot))), el("td", {}, c.cameras.join(", ")),
      el("td", { style: "text-align:left" }, ...clipLinks(c))))));
}

// ---- start ----

async function main() {
  nav();
  st = await rig();
  await loadIndex();
  buildGrid();
  timelineEvents();
  setSelection(null);
  const enabled = P.first !== null;
  for (const id of ["play", "back", "fwd", "slider"]) $(id).disabled = !enabled;
  $("play").addEventListener("click", () => (P.playing ? pause() : play()));
  $("back").addEventListener("click", () => seek((P.shownSlot ?? P.first) - 1));
  $("fwd").addEventListener("click", () => seek((P.shownSlot ?? P.first) + 1));
  $("speed").addEventListener("change", e => setSpeed(e.target.value));
  $("slider").addEventListener("input", e => seek(Number(e.target.value)));
  $("export").addEventListener("click", () => exportClip());
  document.addEventListener("keydown", e => {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
    if (e.key === " ") { e.preventDefault(); P.playing ? pause() : play(); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); seek((P.shownSlot ?? P.first) - 1); }
    else if (e.key === "ArrowRight") { e.preventDefault(); seek((P.shownSlot ?? P.first) + 1); }
  });
  window.addEventListener("resize", () => { sizeTiles(); drawTimeline(); if (P.shownSlot !== null && !P.playing) seek(P.shownSlot); });
  drawTimeline();
  if (enabled) seek(P.first);
  else $("clock").textContent = "nothing recorded yet";
  loadClips().catch(e => note("clips: " + e.message));
  setInterval(async () => {
    try {
      const before = P.cameras.join();
      await loadIndex();
      if (P.cameras.join() !== before) buildGrid();
      drawTimeline();
    } catch (e) {
      note("index: " + e.message);
    }
  }, REFRESH_MS);
}

main().catch(e => note("recordings: " + e.message));
