// noisekit frontend extension: live sigma curves on schedule nodes (values from the Python
// registry through /noisekit/sigmas) and a drag-to-edit curve on Custom Sigmas.
// Everything is guarded: without these extension hooks the nodes still work, only the picture is absent.
import { app } from "../../scripts/app.js";
import { curvePoints, curveQuery, dragValue, formatSigmas, hitTest, logRange, nearestStep, parseSigmas, resample } from "./lib/curve.js";

const CURVE_HEIGHT = 110;
const PRESETS = { min: 0.0001, max: 5000 };

function curveRect(node) {
  const top = node.size[1] - CURVE_HEIGHT - 8;
  return { x: 34, y: top, w: node.size[0] - 46, h: CURVE_HEIGHT - 14 };
}

function drawCurve(node, ctx) {
  const state = node.__noisekitCurve;
  if (!state || !state.sigmas || state.sigmas.length < 2) return;
  const rect = curveRect(node);
  state.range = logRange(state.sigmas);
  state.points = curvePoints(state.sigmas, rect, state.range);
  ctx.save();
  ctx.fillStyle = "rgba(0,0,0,0.25)";
  ctx.fillRect(rect.x - 30, rect.y - 4, rect.w + 40, rect.h + 18);
  ctx.strokeStyle = "#7cc4ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  state.points.forEach((p, k) => (k ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
  ctx.stroke();
  ctx.fillStyle = "#7cc4ff";
  for (const p of state.points) ctx.fillRect(p.x - 2, p.y - 2, 4, 4);
  ctx.fillStyle = "#ccc";
  ctx.font = "10px sans-serif";
  ctx.fillText(`${Number((10 ** state.range[1]).toPrecision(3))}`, rect.x - 28, rect.y + 8);
  ctx.fillText(`${Number((10 ** state.range[0]).toPrecision(3))}`, rect.x - 28, rect.y + rect.h);
  if (state.hover >= 0 && state.points[state.hover]) {
    const p = state.points[state.hover];
    ctx.fillText(`step ${p.i}  sigma ${Number(p.sigma.toPrecision(4))}`, rect.x + 4, rect.y + 10);
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(p.x - 4, p.y - 4, 8, 8);
  }
  ctx.restore();
}

function ensureRoom(node) {
  const min = (node.computeSize ? node.computeSize()[1] : node.size[1]) + CURVE_HEIGHT;
  if (node.size[1] < min) node.setSize([node.size[0], min]);
}

async function refreshSchedule(node) {
  const state = node.__noisekitCurve;
  try {
    const response = await fetch(curveQuery(node.comfyClass || node.type, node.widgets || []));
    const body = await response.json();
    state.error = response.ok ? null : body.error;
    if (response.ok) state.sigmas = body.sigmas;
  } catch (e) {
    state.error = String(e);
  }
  node.setDirtyCanvas(true, true);
}

function watchWidgets(node, onChange) {
  for (const w of node.widgets || []) {
    const original = w.callback;
    w.callback = function (...args) {
      const result = original ? original.apply(this, args) : undefined;
      onChange();
      return result;
    };
  }
}

function setupSchedule(node) {
  node.__noisekitCurve = { sigmas: null, points: [], hover: -1 };
  let timer = null;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(() => refreshSchedule(node), 150); };
  watchWidgets(node, schedule);
  ensureRoom(node);
  schedule();
}

function setupCustomSigmas(node) {
  const widget = (node.widgets || []).find((w) => w.name === "sigmas");
  if (!widget) return;
  const state = (node.__noisekitCurve = { sigmas: parseSigmas(widget.value), points: [], hover: -1, drag: -1 });
  watchWidgets(node, () => { state.sigmas = parseSigmas(widget.value) || state.sigmas; node.setDirtyCanvas(true, true); });
  node.addWidget?.("button", "set step count", null, () => {
    const steps = Number(window.prompt("Number of steps", String(state.sigmas.length - 1)));
    if (Number.isInteger(steps) && steps >= 1 && steps <= 1000) {
      state.sigmas = resample(state.sigmas, steps);
      widget.value = formatSigmas(state.sigmas);
      node.setDirtyCanvas(true, true);
    }
  }, { serialize: false });
  ensureRoom(node);
  const down = node.onMouseDown;
  node.onMouseDown = function (e, pos, canvas) {
    const hit = hitTest(state.points, pos[0], pos[1], 8);
    if (hit >= 0 && state.sigmas[hit] > 0) { state.drag = hit; return true; }
    return down ? down.apply(this, arguments) : undefined;
  };
  const move = node.onMouseMove;
  node.onMouseMove = function (e, pos, canvas) {
    state.hover = nearestStep(state.points, pos[0], curveRect(this));
    if (state.drag >= 0) {
      state.sigmas[state.drag] = dragValue(state.sigmas, state.drag, pos[1], curveRect(this), state.range, PRESETS);
      widget.value = formatSigmas(state.sigmas);
    }
    this.setDirtyCanvas(true, true);
    return move ? move.apply(this, arguments) : undefined;
  };
  const up = node.onMouseUp;
  node.onMouseUp = function (e, pos, canvas) {
    if (state.drag >= 0) { state.drag = -1; widget.callback?.(widget.value); }
    return up ? up.apply(this, arguments) : undefined;
  };
}

app?.registerExtension?.({
  name: "noisekit.sigmas",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const isSchedule = nodeData?.name?.startsWith("NoisekitSchedule");
    const isCustom = nodeData?.name === "NoisekitCustomSigmas";
    if (!isSchedule && !isCustom) return;
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = created?.apply(this, arguments);
      (isCustom ? setupCustomSigmas : setupSchedule)(this);
      return result;
    };
    const draw = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      const result = draw?.apply(this, arguments);
      if (!this.flags?.collapsed) drawCurve(this, ctx);
      return result;
    };
    if (isSchedule) {
      const move = nodeType.prototype.onMouseMove;
      nodeType.prototype.onMouseMove = function (e, pos) {
        if (this.__noisekitCurve) {
          this.__noisekitCurve.hover = nearestStep(this.__noisekitCurve.points, pos[0], curveRect(this));
          this.setDirtyCanvas(true, false);
        }
        return move?.apply(this, arguments);
      };
    }
  },
});
