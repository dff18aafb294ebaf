extension AddressSpaceMap {
    /// The page: `{{TITLE}}` and `{{DATA}}` are filled in by ``html()``. Everything is inline:
    /// the page loads nothing. It writes `ok: ...` (or `error: ...`) into `#status` and
    /// `body[data-status]` once drawn, for tests and headless browsers.
    static let template = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}} · PageWalk map</title>
<style>
:root { --fg:#1f2937; --muted:#6b7280; --line:#d1d5db; --bg:#ffffff; --panel:#f9fafb; }
* { box-sizing: border-box; }
body { margin:0; font:13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:16px; padding:10px 16px 6px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
header h1 { font-size:16px; margin:0; font-weight:600; }
#summary { color:var(--muted); }
.controls { margin-left:auto; display:flex; gap:6px; align-items:center; }
button { font:inherit; padding:2px 10px; border:1px solid var(--line); background:#fff; border-radius:4px; cursor:pointer; }
button:hover { background:#f3f4f6; }
#main { display:flex; min-height:0; }
#chart { flex:1; min-width:0; position:relative; }
#svg { display:block; width:100%; user-select:none; cursor:grab; }
#svg.dragging { cursor:grabbing; }
#steps { width:360px; border-left:1px solid var(--line); background:var(--panel); display:flex; flex-direction:column; }
#steps[hidden] { display:none; }
#steps .bar { padding:8px; display:flex; gap:6px; align-items:center; border-bottom:1px solid var(--line); }
#steps .bar span { color:var(--muted); margin-left:auto; }
#steplist { position:relative; overflow:auto; flex:1; margin:0; padding:4px 0; list-style:none; font:12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
#steplist li { padding:0 8px; white-space:pre; cursor:pointer; }
#steplist li.call { color:#1d4ed8; font-weight:600; margin-top:4px; }
#steplist li.current { background:#fde68a; }
#legend { display:flex; flex-wrap:wrap; gap:4px 14px; padding:6px 16px; border-top:1px solid var(--line); color:var(--muted); }
#legend i { display:inline-block; width:12px; height:12px; vertical-align:-2px; margin-right:4px; border-radius:2px; }
#tip { position:fixed; pointer-events:none; background:#111827; color:#f9fafb; padding:6px 8px; border-radius:4px; font:12px/1.45 ui-monospace, Menlo, monospace; max-width:520px; white-space:pre; z-index:10; box-shadow:0 2px 8px rgba(0,0,0,.25); }
#status { padding:4px 16px; color:var(--muted); font-size:11px; }
.help { color:var(--muted); font-size:12px; }
</style>
</head>
<body data-status="loading">
<header>
<h1>{{TITLE}}</h1><span id="summary"></span>
<div class="controls"><span class="help">wheel: zoom · drag: pan · double-click: zoom to · hover: bits · #zoom=START-END</span>
<button id="zin" title="zoom in">+</button><button id="zout" title="zoom out">&minus;</button><button id="zreset">whole space</button></div>
</header>
<div id="main">
<div id="chart"><svg id="svg" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="address space map"></svg></div>
<aside id="steps" hidden>
<div class="bar"><button id="prev" title="previous (left arrow)">&#9664;</button><button id="next" title="next (right arrow)">&#9654;</button><button id="play">play</button><label><input type="checkbox" id="follow" checked> follow</label><span id="stepno"></span></div>
<ol id="steplist"></ol>
</aside>
</div>
<div id="legend"></div>
<div id="tip" hidden></div>
<div id="status">loading</div>
<script id="data" type="application/json">{{DATA}}</script>
<script>
"use strict";
(function () {
const statusEl = document.getElementById("status");
function setStatus(s) { statusEl.textContent = s; document.body.dataset.status = s.split(":")[0]; }
window.addEventListener("error", function (e) { setStatus("error: " + e.message); });
const D = JSON.parse(document.getElementById("data").textContent);
const KINDS = {
  "table": ["#9ca3af", "pointer to a table"], "4K": ["#3b82f6", "4 KiB page"], "zero": ["#bfdbfe", "zero page"],
  "2M": ["#16a34a", "2 MiB leaf"], "hugezero": ["#bbf7d0", "huge zero page"], "1G": ["#7c3aed", "1 GiB leaf"],
  "swap": ["#f97316", "swap"], "migration": ["#eab308", "migration"], "marker": ["#ec4899", "PTE marker"],
  "guard": ["#dc2626", "guard region"], "hwpoison": ["#111827", "hwpoison"], "device": ["#14b8a6", "device"],
  "other": ["#a16207", "other (not a leaf, not a table)"]
};
const hexOf = function (pages) { return "0x" + (pages * 4096).toString(16); };
function bytes(pages) {
  let b = pages * 4096, u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (b >= 100 || b === Math.floor(b) ? b.toFixed(0) : b.toFixed(1)) + " " + u[i];
}
function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"); }

// ---- the compressed address axis: occupied ranges get width by log of their size, holes a little each
let spaceEnd = D.taskSize;
for (const v of D.vmas) spaceEnd = Math.max(spaceEnd, v[2]);
for (const e of D.entries) if (e[3] !== "table") spaceEnd = Math.max(spaceEnd, e[1] + e[2]);
const cuts = new Set([0, spaceEnd]);
const occupied = [];
for (const v of D.vmas) { occupied.push([v[1], v[2]]); cuts.add(v[1]); cuts.add(v[2]); }
for (const e of D.entries) if (e[3] !== "table") occupied.push([e[1], e[1] + e[2]]);
occupied.sort((a, b) => a[0] - b[0]);
const merged = [];
for (const o of occupied) {
  const last = merged[merged.length - 1];
  if (last && o[0] <= last[1]) last[1] = Math.max(last[1], o[1]); else merged.push([o[0], o[1]]);
}
for (const m of merged) { cuts.add(m[0]); cuts.add(m[1]); }
const points = [...cuts].filter(p => p <= spaceEnd).sort((a, b) => a - b);
const segs = [];
let mi = 0, total = 0;
for (let i = 0; i + 1 < points.length; i++) {
  const s = points[i], e = points[i + 1];
  while (mi < merged.length && merged[mi][1] <= s) mi++;
  const hole = !(mi < merged.length && merged[mi][0] <= s && s < merged[mi][1]);
  const w = hole ? 0.9 : 1 + 0.55 * Math.log2(e - s);
  segs.push({ s: s, e: e, u0: total, w: w, hole: hole });
  total += w;
}
function U(p) {
  let lo = 0, hi = segs.length - 1;
  if (p <= 0) return 0;
  if (p >= spaceEnd) return total;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (segs[mid].s <= p) lo = mid; else hi = mid - 1; }
  const g = segs[lo];
  return g.u0 + (p - g.s) / (g.e - g.s) * g.w;
}

// ---- layout
const svg = document.getElementById("svg");
const levels = D.realLevels;
const GUTTER = 64, ROW = 62, AXIS = 26, VMAY = 34, VMAH = 38, TOP = VMAY + VMAH + 18;
const height = TOP + levels.length * ROW + 12;
svg.setAttribute("height", height);
let v0 = 0, v1 = total, W = 800;
const byLevel = levels.map(() => []);
D.entries.forEach((e, i) => { const r = levels.indexOf(e[0]); if (r >= 0) byLevel[r].push(i); });
for (const list of byLevel) list.sort((a, b) => D.entries[a][1] - D.entries[b][1]);
const rowOf = function (level) { return levels.indexOf(level); };
let step = -1;

function X(p) { return GUTTER + (U(p) - v0) / (v1 - v0) * (W - GUTTER - 8); }
function render() {
  W = Math.max(400, svg.clientWidth || 1000);
  svg.setAttribute("viewBox", "0 0 " + W + " " + height);
  const out = [];
  const L = GUTTER, R = W - 8;
  out.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d1d5db" stroke-width="2"/></pattern>'
    + '<clipPath id="plot"><rect x="' + L + '" y="0" width="' + (R - L) + '" height="' + height + '"/></clipPath></defs>');
  out.push('<g clip-path="url(#plot)">');
  // holes, across every row
  segs.forEach(function (g, i) {
    if (!g.hole) return;
    const a = Math.max(L, X(g.s)), b = Math.min(R, X(g.e));
    if (b <= a) return;
    out.push('<rect data-k="h' + i + '" x="' + a + '" y="' + VMAY + '" width="' + (b - a) + '" height="' + (height - VMAY - 8) + '" fill="url(#hatch)"/>');
    if (b - a > 70) out.push('<text x="' + ((a + b) / 2) + '" y="' + (VMAY + VMAH / 2 + 4) + '" text-anchor="middle" fill="#6b7280" font-size="11">hole ' + bytes(g.e - g.s) + '</text>');
  });
  // the axis
  let lastX = -1e9;
  out.push('<line x1="' + L + '" y1="' + (AXIS - 4) + '" x2="' + R + '" y2="' + (AXIS - 4) + '" stroke="#9ca3af"/>');
  for (const p of points) {
    const x = X(p);
    if (x < L - 1 || x > R + 1 || x - lastX < 96) continue;
    lastX = x;
    out.push('<line x1="' + x + '" y1="' + (AXIS - 8) + '" x2="' + x + '" y2="' + AXIS + '" stroke="#6b7280"/><text x="' + (x + 3) + '" y="' + (AXIS - 10) + '" font-size="10" fill="#374151" font-family="ui-monospace,monospace">' + hexOf(p) + '</text>');
  }
  // VMAs
  D.vmas.forEach(function (v, i) {
    const a = X(v[1]), b = X(v[2]);
    if (b < L || a > R) return;
    const f = v[3];
    const fill = f.indexOf("hugetlb") >= 0 ? "#dcfce7" : f.indexOf("file") >= 0 ? (f[2] === "x" ? "#fce7f3" : "#fef3c7") : "#dbeafe";
    const stroke = f.indexOf("hugetlb") >= 0 ? "#16a34a" : f.indexOf("file") >= 0 ? (f[2] === "x" ? "#db2777" : "#d97706") : "#2563eb";
    out.push('<rect class="vma" data-k="v' + i + '" x="' + a + '" y="' + VMAY + '" width="' + Math.max(1, b - a) + '" height="' + VMAH + '" fill="' + fill + '" stroke="' + stroke + '" rx="2"/>');
    const what = f.indexOf("hugetlb") >= 0 ? "hugetlb " : f.indexOf("file") >= 0 ? "file " + f.split(" ")[2] + " " : f.indexOf("anon") >= 0 ? "anon " : "";
    const label = (v[4] ? v[4].split("/").pop() || v[4] : what + "(VMA " + v[0] + ")") + "  " + f.split(" ")[0];
    const cx = Math.max(a, L) + 4, room = Math.min(b, R) - Math.max(a, L) - 8;
    if (room > 40) out.push('<text x="' + cx + '" y="' + (VMAY + 15) + '" font-size="11" fill="#111827" pointer-events="none">' + esc(label.slice(0, Math.floor(room / 6.2))) + '</text>');
    if (room > 80) out.push('<text x="' + cx + '" y="' + (VMAY + 30) + '" font-size="10" fill="#4b5563" pointer-events="none">' + bytes(v[2] - v[1]) + '</text>');
  });
  // tables and their entries, one row per real level
  const tablesDrawn = [];
  levels.forEach(function (level, r) {
    const y = TOP + r * ROW;
    D.tables.forEach(function (t, ti) {
      if (t[0] !== level) return;
      const a = X(t[1]), b = X(Math.min(t[2], spaceEnd));
      if (b < L || a > R) return;
      tablesDrawn.push(ti);
      const full = t[3] / 512;
      out.push('<rect data-k="t' + ti + '" x="' + a + '" y="' + y + '" width="' + Math.max(2, b - a) + '" height="' + (ROW - 14) + '" fill="#ffffff" stroke="#6b7280" stroke-width="1"/>');
      out.push('<rect data-k="t' + ti + '" x="' + a + '" y="' + (y + 35) + '" width="' + Math.max(1, (b - a) * full) + '" height="4" fill="hsl(' + (200 - 200 * full) + ',70%,45%)"/>');
      const room = Math.min(b, R) - Math.max(a, L);
      if (room > 110) out.push('<text x="' + (Math.max(a, L) + 4) + '" y="' + (y + 46) + '" font-size="10" fill="#374151" pointer-events="none">' + D.levelNames[level] + ' table ' + t[3] + '/512</text>');
    });
    // entries: runs of narrow entries of the same kind are drawn as one
    let run = null;
    const flush = function () {
      if (!run) return;
      const ptr = run.kind === "table";
      out.push('<rect data-k="' + (run.n > 1 ? "r" + run.first + "_" + run.n : "e" + run.first) + '" x="' + run.a + '" y="' + (y + (ptr ? 3 : 12)) + '" width="' + Math.max(2, run.b - run.a) + '" height="' + (ptr ? 7 : 21) + '" fill="' + KINDS[run.kind][0] + '"/>');
      run = null;
    };
    for (const i of byLevel[r]) {
      const e = D.entries[i];
      let a = X(e[1]), b = X(e[1] + e[2]);
      if (b < L || a > R) continue;
      const wide = b - a >= 3;
      if (!wide && b - a < 2.5) { const m = (a + b) / 2; a = m - 1.25; b = m + 1.25; }
      const gap = wide ? 0.5 : 0;
      if (run && run.kind === e[3] && !wide && a - run.b < 1.5) { run.b = b; run.n++; continue; }
      flush();
      run = { a: a + gap, b: b - gap, kind: e[3], first: i, n: 1 };
      if (wide) flush();
    }
    flush();
    out.push('<rect x="0" y="' + y + '" width="' + (L - 4) + '" height="' + (ROW - 14) + '" fill="#fff"/>');
  });
  // the tree: a line from each table to the entry that points at it
  if (tablesDrawn.length < 3000) {
    for (const ti of tablesDrawn) {
      const t = D.tables[ti];
      const r = rowOf(t[0]);
      if (r <= 0) continue;
      const a = Math.max(L, X(t[1])), b = Math.min(R, X(Math.min(t[2], spaceEnd)));
      const x = (a + b) / 2, y = TOP + r * ROW;
      out.push('<line x1="' + x + '" y1="' + (y - 14 - 2) + '" x2="' + x + '" y2="' + y + '" stroke="#9ca3af" stroke-width="1"/>');
    }
  }
  // the current step
  if (step >= 0 && D.steps[step][1] >= 0) {
    const s = D.steps[step];
    const a = Math.max(L - 2, X(s[1])), b = Math.min(R + 2, X(Math.min(s[2], spaceEnd)));
    out.push('<rect id="stepband" x="' + a + '" y="' + (AXIS - 2) + '" width="' + Math.max(2, b - a) + '" height="' + (height - AXIS - 4) + '" fill="rgba(250,204,21,0.28)" stroke="#ca8a04" stroke-width="1" pointer-events="none"/>');
    if (s[3] >= 0 && rowOf(s[3]) >= 0) {
      const y = TOP + rowOf(s[3]) * ROW;
      out.push('<rect x="' + a + '" y="' + (y - 2) + '" width="' + Math.max(3, b - a) + '" height="' + (ROW - 10) + '" fill="none" stroke="#b45309" stroke-width="2.5" pointer-events="none"/>');
    }
  }
  out.push('</g>');
  // row labels
  out.push('<text x="6" y="' + (VMAY + 23) + '" font-size="12" font-weight="600" fill="#374151">VMAs</text>');
  levels.forEach(function (level, r) {
    out.push('<text x="6" y="' + (TOP + r * ROW + 24) + '" font-size="12" font-weight="600" fill="#374151">' + D.levelNames[level] + '</text>');
  });
  svg.innerHTML = out.join("");
}

// ---- hover
const tip = document.getElementById("tip");
function bits(hex, level) {
  const v = BigInt("0x" + hex);
  const bit = function (n) { return (v >> BigInt(n)) & 1n; };
  if (v === 0n) return "none";
  if (!bit(0)) return "not present";
  const names = [[0, "P"], [1, "RW"], [2, "US"], [3, "PWT"], [4, "PCD"], [5, "A"], [6, "D"], [7, level === 4 ? "PAT" : "PSE"], [8, "G"], [9, "SPECIAL"], [11, "SOFT_DIRTY"], [63, "NX"]];
  return names.filter(function (n) { return bit(n[0]); }).map(function (n) { return n[1]; }).join(" ")
    + "  pfn=0x" + ((v >> 12n) & ((1n << 40n) - 1n)).toString(16);
}
function describe(k) {
  const t = k[0], rest = k.slice(1);
  if (t === "v") {
    const v = D.vmas[+rest];
    return "VMA " + v[0] + (v[4] ? "  " + v[4] : "") + "\n" + hexOf(v[1]) + "-" + hexOf(v[2]) + "  " + bytes(v[2] - v[1]) + "\n" + v[3];
  }
  if (t === "h") { const g = segs[+rest]; return "hole " + hexOf(g.s) + "-" + hexOf(g.e) + "\n" + bytes(g.e - g.s) + ", no VMA, no entry"; }
  if (t === "t") {
    const x = D.tables[+rest];
    return D.levelNames[x[0]] + " table" + (x[4] ? " in frame 0x" + x[4].toString(16) : " (the top table)") + "\ncovers " + hexOf(x[1]) + "-" + (x[2] >= 2 ** 52 ? "top" : hexOf(x[2])) + "\n" + x[3] + " of 512 entries used (" + (x[3] / 5.12).toFixed(1) + "%)";
  }
  const parts = rest.split("_"), i = +parts[0], n = parts.length > 1 ? +parts[1] : 1;
  const e = D.entries[i];
  let s = D.levelNames[e[0]] + " entry at " + hexOf(e[1]) + " (" + bytes(e[2]) + ")\nvalue 0x" + e[4] + "\n" + e[5];
  if (KINDS[e[3]] && e[3] !== "table" && BigInt("0x" + e[4]) & 1n) s += "\nbits " + bits(e[4], e[0]);
  else if (e[3] === "table") s += "\nbits " + bits(e[4], e[0]);
  if (n > 1) { const last = D.entries[i + n - 1] || e; s = n + " " + KINDS[e[3]][1] + " entries " + hexOf(e[1]) + "-" + hexOf(last[1] + last[2]) + " (zoom in for each)\nfirst: " + s; }
  return s;
}
svg.addEventListener("mousemove", function (ev) {
  const k = ev.target.dataset && ev.target.dataset.k;
  if (!k || dragging) { tip.hidden = true; return; }
  tip.textContent = describe(k);
  tip.hidden = false;
  const w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - w - 4) + "px";
  tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - h - 4) + "px";
});
svg.addEventListener("mouseleave", function () { tip.hidden = true; });

// ---- zoom and pan
let pending = false;
function redraw() { if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; render(); }); } }
function zoomAround(u, f) {
  let span = (v1 - v0) * f;
  span = Math.min(total, Math.max(total * 1e-12, span));
  const t = (u - v0) / (v1 - v0);
  v0 = u - t * span; v1 = v0 + span;
  if (v0 < 0) { v1 -= v0; v0 = 0; }
  if (v1 > total) { v0 -= v1 - total; v1 = total; if (v0 < 0) v0 = 0; }
  redraw();
}
function uAt(clientX) { const r = svg.getBoundingClientRect(); const x = (clientX - r.left) * W / r.width; return v0 + (x - GUTTER) / (W - GUTTER - 8) * (v1 - v0); }
function zoomTo(s, e) { const a = U(s), b = U(e), pad = (b - a) * 0.04; v0 = Math.max(0, a - pad); v1 = Math.min(total, b + pad); redraw(); }
svg.addEventListener("wheel", function (ev) { ev.preventDefault(); zoomAround(uAt(ev.clientX), Math.exp(ev.deltaY * 0.0015)); }, { passive: false });
let dragging = false, dragX = 0, dragV = 0;
svg.addEventListener("mousedown", function (ev) { dragging = true; dragX = ev.clientX; dragV = v0; svg.classList.add("dragging"); });
window.addEventListener("mouseup", function () { dragging = false; svg.classList.remove("dragging"); });
window.addEventListener("mousemove", function (ev) {
  if (!dragging) return;
  const r = svg.getBoundingClientRect(), span = v1 - v0;
  let n = dragV - (ev.clientX - dragX) * W / r.width / (W - GUTTER - 8) * span;
  n = Math.max(0, Math.min(total - span, n));
  v0 = n; v1 = n + span; redraw();
});
svg.addEventListener("dblclick", function (ev) {
  const k = ev.target.dataset && ev.target.dataset.k;
  if (k && k[0] === "v") { const v = D.vmas[+k.slice(1)]; zoomTo(v[1], v[2]); }
  else if (k && k[0] === "t") { const t = D.tables[+k.slice(1)]; zoomTo(t[1], Math.min(t[2], spaceEnd)); }
  else if (k && (k[0] === "e" || k[0] === "r")) { const e = D.entries[+k.slice(1).split("_")[0]]; const t = D.tables[e[6]]; zoomTo(t[1], Math.min(t[2], spaceEnd)); }
  else { v0 = 0; v1 = total; redraw(); }
});
document.getElementById("zin").onclick = function () { zoomAround((v0 + v1) / 2, 0.5); };
document.getElementById("zout").onclick = function () { zoomAround((v0 + v1) / 2, 2); };
document.getElementById("zreset").onclick = function () { v0 = 0; v1 = total; redraw(); };
window.addEventListener("resize", redraw);

// ---- stepping through a walk
const list = document.getElementById("steplist");
let timer = null;
function go(n) {
  if (!D.steps.length) return;
  step = Math.max(0, Math.min(D.steps.length - 1, n));
  const items = list.children;
  for (const li of list.querySelectorAll(".current")) li.classList.remove("current");
  items[step].classList.add("current");
  const li = items[step];
  if (li.offsetTop < list.scrollTop || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight)
    list.scrollTop = Math.max(0, li.offsetTop - list.clientHeight / 3);
  document.getElementById("stepno").textContent = "step " + (step + 1) + " of " + D.steps.length;
  const s = D.steps[step];
  if (s[1] >= 0 && document.getElementById("follow").checked) {
    const a = U(s[1]), b = U(Math.min(s[2], spaceEnd));
    if (a < v0 || b > v1 || (b - a) < (v1 - v0) * 0.002) {
      // show the step within the aligned block of 32 of its size around it
      let size = 1;
      while (size < s[2] - s[1]) size *= 2;
      const block = size * 32, lo = Math.floor(s[1] / block) * block;
      zoomTo(lo, Math.min(lo + block, spaceEnd));
    }
  }
  redraw();
}
if (D.steps.length) {
  document.getElementById("steps").hidden = false;
  document.getElementById("steps").style.height = height + "px";
  D.steps.forEach(function (s, i) {
    const li = document.createElement("li");
    li.textContent = s[0];
    if (s[4]) li.className = "call";
    li.onclick = function () { go(i); };
    list.appendChild(li);
  });
  document.getElementById("prev").onclick = function () { go(step - 1); };
  document.getElementById("next").onclick = function () { go(step + 1); };
  document.getElementById("play").onclick = function () {
    if (timer) { clearInterval(timer); timer = null; this.textContent = "play"; return; }
    this.textContent = "pause";
    timer = setInterval(function () { if (step >= D.steps.length - 1) { clearInterval(timer); timer = null; document.getElementById("play").textContent = "play"; } else go(step + 1); }, 700);
  };
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight") go(step + 1); else if (ev.key === "ArrowLeft") go(step - 1);
  });
}

// ---- legend and summary
const counts = {};
for (const e of D.entries) counts[e[3]] = (counts[e[3]] || 0) + 1;
document.getElementById("legend").innerHTML = Object.keys(KINDS).map(function (k) {
  return '<span><i style="background:' + KINDS[k][0] + '"></i>' + KINDS[k][1] + (counts[k] ? " (" + counts[k] + ")" : "") + '</span>';
}).join("") + '<span><i style="background:url(#);border:1px solid #d1d5db;background:repeating-linear-gradient(45deg,#f3f4f6 0 3px,#d1d5db 3px 5px)"></i>hole</span>';
const perLevel = levels.map(function (l) { return D.levelNames[l] + " " + D.tables.filter(function (t) { return t[0] === l; }).length; }).join(", ");
document.getElementById("summary").textContent = D.levels + " levels, " + D.vaBits + "-bit · " + D.vmas.length + " VMAs · "
  + D.tables.length + " page tables (" + perLevel + ") · " + D.entries.length + " entries";
render();
const start = /step=(\d+)/.exec(location.hash);
if (D.steps.length) go(start ? +start[1] - 1 : 0);
// #zoom=START-END (hex addresses): open zoomed on that range, to link to a part of the map
const zoom = /zoom=(?:0x)?([0-9a-fA-F]+)-(?:0x)?([0-9a-fA-F]+)/.exec(location.hash);
if (zoom) {
  const a = parseInt(zoom[1], 16) / 4096, b = parseInt(zoom[2], 16) / 4096;
  if (b > a) { const u0 = U(a), u1 = U(b); v0 = u0; v1 = Math.max(u1, u0 + total * 1e-12); }
}
render();
// #selftest: what hovering shows, for one shape of each sort and one entry of each kind, written
// into the page (headless tests cannot hover)
if (/selftest/.test(location.hash)) {
  const seen = {}, lines = [], kinds = {};
  for (const el of svg.querySelectorAll("[data-k]")) {
    const k = el.dataset.k;
    if (!seen[k[0]]) { seen[k[0]] = true; lines.push(k + ": " + describe(k)); }
  }
  D.entries.forEach(function (e, i) { if (!kinds[e[3]]) { kinds[e[3]] = true; lines.push("e" + i + ": " + describe("e" + i)); } });
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = lines.join("\n");
  document.body.appendChild(pre);
}
setStatus("ok: " + D.vmas.length + " vmas, " + D.tables.length + " tables, " + D.entries.length + " entries, " + D.steps.length + " steps, " + svg.querySelectorAll("rect").length + " shapes");
})();
</script>
</body>
</html>
"""#
}
