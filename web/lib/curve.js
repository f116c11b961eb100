// Pure geometry of the sigma curve drawn on noisekit nodes: no DOM, unit-tested with vitest.
// The y axis is log10(sigma); a final sigma of 0 is drawn on the bottom edge.

export function parseSigmas(text) {
  const parts = String(text).replace(/[\[\]]/g, " ").split(/[\s,]+/).filter(Boolean);
  const values = parts.map(Number);
  if (values.length < 2 || values.some((v) => !Number.isFinite(v) || v < 0)) return null;
  return values;
}

export function formatSigmas(values) {
  return values.map((v) => (v === 0 ? "0" : Number(v.toPrecision(6)).toString())).join(", ");
}

export function logRange(sigmas) {
  const positive = sigmas.filter((s) => s > 0);
  if (!positive.length) return [Math.log10(0.01), Math.log10(1)];
  let lo = Math.log10(Math.min(...positive));
  let hi = Math.log10(Math.max(...positive));
  if (hi - lo < 0.3) { lo -= 0.15; hi += 0.15; }
  return [lo, hi];
}

// Points in canvas pixels inside rect {x, y, w, h}.
export function curvePoints(sigmas, rect, range = logRange(sigmas)) {
  const [lo, hi] = range;
  const n = Math.max(sigmas.length - 1, 1);
  return sigmas.map((s, i) => ({
    x: rect.x + (rect.w * i) / n,
    y: s > 0 ? rect.y + rect.h * (1 - (Math.log10(s) - lo) / (hi - lo)) : rect.y + rect.h,
    i,
    sigma: s,
  }));
}

// Index of the point within `radius` pixels of (x, y), nearest first; -1 if none.
export function hitTest(points, x, y, radius = 6) {
  let best = -1;
  let bestD = radius * radius;
  for (const p of points) {
    const d = (p.x - x) ** 2 + (p.y - y) ** 2;
    if (d <= bestD) { best = p.i; bestD = d; }
  }
  return best;
}

// The point nearest in x (for hover read-outs), or -1 outside the rect.
export function nearestStep(points, x, rect) {
  if (!points.length || x < rect.x - 4 || x > rect.x + rect.w + 4) return -1;
  let best = 0;
  for (const p of points) if (Math.abs(p.x - x) < Math.abs(points[best].x - x)) best = p.i;
  return best;
}

// Dragging point i to canvas height y: the new sigma, snapped to 3 significant digits,
// clamped to [min, max] and kept between its neighbours so the schedule stays descending.
export function dragValue(sigmas, i, y, rect, range, bounds) {
  const [lo, hi] = range;
  const t = Math.min(Math.max((rect.y + rect.h - y) / rect.h, 0), 1);
  let s = Number((10 ** (lo + t * (hi - lo))).toPrecision(3));
  s = Math.min(Math.max(s, bounds.min), bounds.max);
  if (i > 0) s = Math.min(s, sigmas[i - 1]);
  if (i < sigmas.length - 1) s = Math.max(s, sigmas[i + 1]);
  return s;
}

// Resample a schedule to `steps` steps, linearly in log sigma (the final 0 is kept).
export function resample(sigmas, steps) {
  const endsInZero = sigmas[sigmas.length - 1] === 0;
  const body = endsInZero ? sigmas.slice(0, -1) : sigmas.slice();
  const count = endsInZero ? steps : steps + 1;
  if (body.length < 2 || count < 2) return sigmas.slice();
  const logs = body.map((s) => Math.log(s));
  const out = [];
  for (let k = 0; k < count; k++) {
    const pos = (k * (logs.length - 1)) / (count - 1);
    const j = Math.min(Math.floor(pos), logs.length - 2);
    const w = pos - j;
    out.push(Math.exp(logs[j] * (1 - w) + logs[j + 1] * w));
  }
  return endsInZero ? [...out, 0] : out;
}

// The query for /noisekit/sigmas from a node type and its widgets.
export function curveQuery(type, widgets) {
  const params = new URLSearchParams({ type });
  for (const w of widgets) {
    if (w && w.name && w.value !== undefined && typeof w.value !== "object") params.set(w.name, String(w.value));
  }
  return `/noisekit/sigmas?${params.toString()}`;
}
