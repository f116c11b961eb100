// Pure geometry of the sigma curve drawn on noisekit nodes: no DOM, unit-tested with vitest.
// The y axis is log10(sigma) over the rect; a sigma of 0 (log = -inf) is drawn ZERO_GAP pixels below
// it, on a zero axis of its own, so it never sits at the height of the last positive sigma.

export const ZERO_GAP = 8;

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

// Points in canvas pixels: positive sigmas inside rect {x, y, w, h}, zeros on the zero axis below it.
export function curvePoints(sigmas, rect, range = logRange(sigmas)) {
  const [lo, hi] = range;
  const n = Math.max(sigmas.length - 1, 1);
  return sigmas.map((s, i) => ({
    x: rect.x + (rect.w * i) / n,
    y: s > 0 ? rect.y + rect.h * (1 - (Math.log10(s) - lo) / (hi - lo)) : zeroAxis(rect),
    i,
    sigma: s,
    zero: !(s > 0),
  }));
}

// The height of the zero axis.
export function zeroAxis(rect) {
  return rect.y + rect.h + ZERO_GAP;
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

// The sigma drawn at canvas height y (log scale), snapped to 3 significant digits, or to a
// model's sigma_min/sigma_max (bounds.snap) when that is within `px` pixels, clamped to [min, max].
export function sigmaAt(y, rect, range, bounds, px = 6) {
  const [lo, hi] = range;
  const t = Math.min(Math.max((rect.y + rect.h - y) / rect.h, 0), 1);
  let s = Number((10 ** (lo + t * (hi - lo))).toPrecision(3));
  for (const target of bounds.snap || []) {
    const ty = rect.y + rect.h * (1 - (Math.log10(target) - lo) / (hi - lo));
    if (target > 0 && Math.abs(ty - y) <= px) s = target;
  }
  return Math.min(Math.max(s, bounds.min), bounds.max);
}

// Dragging point i to canvas height y: its new sigma (sigmaAt), kept between its neighbours
// so the schedule stays descending.
export function dragValue(sigmas, i, y, rect, range, bounds) {
  let s = sigmaAt(y, rect, range, bounds);
  if (i > 0) s = Math.min(s, sigmas[i - 1]);
  if (i < sigmas.length - 1) s = Math.max(s, sigmas[i + 1]);
  return s;
}

// A new point at canvas (x, y): inserted between the steps around x, its sigma between theirs.
// Returns a new array, or the same one when x is outside the curve.
export function insertPoint(sigmas, x, y, rect, range, bounds) {
  const pos = ((x - rect.x) / rect.w) * (sigmas.length - 1);
  const i = Math.floor(pos) + 1;
  if (pos <= 0 || i > sigmas.length - 1) return sigmas;
  const s = Math.min(Math.max(sigmaAt(y, rect, range, bounds), sigmas[i]), sigmas[i - 1]);
  return [...sigmas.slice(0, i), s, ...sigmas.slice(i)];
}

// Removing point i: the first and last points and a one-step schedule stay.
export function removePoint(sigmas, i) {
  if (i <= 0 || i >= sigmas.length - 1 || sigmas.length <= 2) return sigmas;
  return [...sigmas.slice(0, i), ...sigmas.slice(i + 1)];
}

// Drag bounds and snap targets from the model presets served by /noisekit/presets.
export function presetBounds(presets) {
  const mins = Object.values(presets).map((p) => p.sigma_min).filter((v) => v > 0);
  const maxs = Object.values(presets).map((p) => p.sigma_max).filter((v) => v > 0);
  if (!mins.length || !maxs.length) return { min: 1e-4, max: 1e4, snap: [] };
  return { min: Math.min(...mins), max: Math.max(...maxs), snap: [...new Set([...mins, ...maxs])] };
}

// The query for /noisekit/sigmas from a node type, its widgets and, for sigma tools, the
// upstream curves of its SIGMAS inputs ({input name: [sigmas]}).
// (Relative to ComfyUI's API base: pass it to api.fetchApi, which adds the base and /api.)
export function curveQuery(type, widgets, inputs = {}) {
  const params = new URLSearchParams({ type });
  for (const w of widgets) {
    if (w && w.name && w.value !== undefined && typeof w.value !== "object") params.set(w.name, String(w.value));
  }
  for (const [name, sigmas] of Object.entries(inputs)) params.set(name, sigmas.join(","));
  return `/noisekit/sigmas?${params.toString()}`;
}

// Sigma Plot's overlay: the heights /noisekit/plot gives (fractions of the rect, 0 at the bottom; null for a
// zero on the log axis) as canvas points, all series on one step axis (the longest schedule's).
export function overlayPoints(series, rect) {
  const n = Math.max(...series.map((heights) => heights.length - 1), 1);
  return series.map((heights) => heights.map((h, i) => ({
    x: rect.x + (rect.w * i) / n,
    y: h === null ? zeroAxis(rect) : rect.y + rect.h * (1 - h),
    i,
    zero: h === null,
  })));
}

// The query for /noisekit/plot: the axis and the connected curves by input name.
export function plotQuery(axis, inputs) {
  const params = new URLSearchParams({ axis });
  for (const [name, sigmas] of Object.entries(inputs)) params.set(name, sigmas.join(","));
  return `/noisekit/plot?${params.toString()}`;
}
