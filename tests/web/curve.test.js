import { describe, expect, it } from "vitest";
import { curvePoints, curveQuery, overlayPoints, plotQuery, dragValue, formatSigmas, hitTest, insertPoint, logRange, nearestStep, parseSigmas, presetBounds, removePoint, sigmaAt, ZERO_GAP, zeroAxis } from "../../web/lib/curve.js";

const rect = { x: 0, y: 0, w: 100, h: 100 };

describe("parsing and serialisation", () => {
  it("round-trips a schedule as plain numbers", () => {
    const s = parseSigmas("14.6146, 6.47, [1.5], 0");
    expect(s).toEqual([14.6146, 6.47, 1.5, 0]);
    expect(parseSigmas(formatSigmas(s))).toEqual(s);
  });
  it("refuses non-numbers, negatives and single values", () => {
    expect(parseSigmas("1, x")).toBeNull();
    expect(parseSigmas("1, -2")).toBeNull();
    expect(parseSigmas("3")).toBeNull();
  });
});

describe("geometry", () => {
  it("maps log sigma linearly to height, zero to its own axis below the lowest positive sigma", () => {
    const pts = curvePoints([100, 10, 1, 0], rect);
    expect(pts.map((p) => p.y)).toEqual([0, 50, 100, 100 + ZERO_GAP]);
    expect(zeroAxis(rect)).toBe(100 + ZERO_GAP);
    expect(ZERO_GAP).toBeGreaterThanOrEqual(6); // visibly apart: more than a point marker's size
    expect(pts.map((p) => p.zero)).toEqual([false, false, false, true]);
    expect(pts.map((p) => p.x)).toEqual([0, 100 / 3, 200 / 3, 100]);
    expect(logRange([100, 1, 0])).toEqual([0, 2]);
  });
  it("hit-tests the nearest point within the radius", () => {
    const pts = curvePoints([100, 10, 1, 0], rect);
    expect(hitTest(pts, 34, 52, 6)).toBe(1);
    expect(hitTest(pts, 60, 10, 6)).toBe(-1);
    expect(nearestStep(pts, 70, rect)).toBe(2);
    expect(nearestStep(pts, 500, rect)).toBe(-1);
  });
});

describe("dragging", () => {
  it("turns a height into a log-scaled, snapped sigma", () => {
    const s = [100, 10, 1, 0];
    expect(dragValue(s, 1, 25, rect, [0, 2], { min: 0.001, max: 1000 })).toBe(31.6);
  });
  it("keeps the schedule descending and inside the bounds", () => {
    const s = [100, 10, 1, 0];
    expect(dragValue(s, 1, -50, rect, [0, 2], { min: 0.001, max: 1000 })).toBe(100);
    expect(dragValue(s, 1, 500, rect, [0, 2], { min: 0.001, max: 1000 })).toBe(1);
    expect(dragValue([100, 10, 0], 0, -10, rect, [0, 2], { min: 0.001, max: 50 })).toBe(50);
  });
});

describe("snapping, adding and removing points", () => {
  const bounds = { min: 0.001, max: 1000, snap: [14.614642, 0.0291675] };
  it("snaps to a model's sigma_min/sigma_max within a few pixels only", () => {
    const y = 100 * (1 - Math.log10(14.614642) / 2); // where 14.61 is drawn on range [0, 2]
    expect(sigmaAt(y + 4, rect, [0, 2], bounds)).toBe(14.614642);
    expect(sigmaAt(y + 15, rect, [0, 2], bounds)).not.toBe(14.614642);
  });
  it("inserts a point between the steps around x, inside their sigmas", () => {
    const s = [100, 10, 1, 0];
    const added = insertPoint(s, 50, 60, rect, [0, 2], bounds); // x = 50 lies between steps 1 and 2
    expect(added.length).toBe(5);
    expect(added[2]).toBe(6.31);
    expect(insertPoint(s, 50, -100, rect, [0, 2], bounds)[2]).toBe(10); // clamped to the neighbour
    expect(insertPoint(s, -5, 50, rect, [0, 2], bounds)).toBe(s);
  });
  it("removes inner points only", () => {
    expect(removePoint([100, 10, 1, 0], 1)).toEqual([100, 1, 0]);
    expect(removePoint([100, 10, 1, 0], 0)).toEqual([100, 10, 1, 0]);
    expect(removePoint([100, 10, 1, 0], 3)).toEqual([100, 10, 1, 0]);
  });
  it("takes drag bounds and snap targets from the presets", () => {
    const b = presetBounds({ sd15: { sigma_min: 0.0291675, sigma_max: 14.614642 }, edm: { sigma_min: 0.002, sigma_max: 80 } });
    expect(b.min).toBe(0.002);
    expect(b.max).toBe(80);
    expect(b.snap.sort()).toEqual([0.002, 0.0291675, 14.614642, 80].sort());
  });
});

describe("route query", () => {
  it("builds the route query from the widgets", () => {
    const q = curveQuery("NoisekitScheduleKarras", [{ name: "steps", value: 20 }, { name: "rho", value: 7 }, { name: "x", value: { a: 1 } }]);
    expect(q).toBe("/noisekit/sigmas?type=NoisekitScheduleKarras&steps=20&rho=7");
  });
  it("passes a sigma tool's upstream curves as comma lists", () => {
    const q = curveQuery("NoisekitSigmasSplit", [{ name: "step", value: 2 }], { sigmas: [10, 5, 0] });
    expect(q).toBe("/noisekit/sigmas?type=NoisekitSigmasSplit&step=2&sigmas=10%2C5%2C0");
  });
});

describe("Sigma Plot overlay", () => {
  it("puts every series on the longest schedule's step axis, a null height on the zero axis", () => {
    const [a, b] = overlayPoints([[1, 0.5, null], [1, 0.75, 0.25, 0, null]], rect);
    expect(a.map((p) => [p.x, p.y])).toEqual([[0, 0], [25, 50], [50, 100 + ZERO_GAP]]);
    expect(b.map((p) => p.y)).toEqual([0, 25, 75, 100, 100 + ZERO_GAP]);
    expect(b.map((p) => p.zero)).toEqual([false, false, false, false, true]);
  });
  it("asks for the axis and the connected curves by input name", () => {
    const q = new URLSearchParams(plotQuery("flow t", { sigmas_1: [3, 1, 0], sigmas_3: [1, 0] }).split("?")[1]);
    expect(Object.fromEntries(q)).toEqual({ axis: "flow t", sigmas_1: "3,1,0", sigmas_3: "1,0" });
  });
});
