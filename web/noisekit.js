// noisekit frontend extension: live sigma curves on schedule and sigma-tool nodes (values from the
// Python nodes through /noisekit/sigmas) and a drag-to-edit curve on Custom Sigmas.
// Everything is guarded: without these extension hooks the nodes still work, only the picture is absent.
import { app } from "../../scripts/app.js";
import {
  curvePoints, curveQuery, dragValue, formatSigmas, hitTest, insertPoint, logRange, nearestStep,
  parseSigmas, presetBounds, removePoint, resample,
} from "./lib/curve.js";

const CURVE_HEIGHT = 110;
let bounds = { min: 1e-4, max: 1e4, snap: [] }; // replaced by the model presets once the route answers

// The curve lives in a canvas widget of its own, so the node's layout gives it room below the other
// widgets (a multiline text box would otherwise cover it); serialize: false keeps it out of the graph.
function addCurveWidget(node, mouse) {
  const widget = {
    name: "noisekit_curve", type: "noisekit_curve", value: null, serialize: false, options: { serialize: false },
    computeSize: (width) => [width, CURVE_HEIGHT],
    draw(ctx, drawnNode, width, y) { this.last_y = y; if (!drawnNode.flags?.collapsed) drawCurve(drawnNode, ctx); },
    mouse: (event, pos) => (mouse ? mouse(event, pos) : false),
  };
  if (node.addCustomWidget) node.addCustomWidget(widget);
  else (node.widgets ||= []).push(widget);
  const min = (node.computeSize ? node.computeSize()[1] : node.size[1]);
  if (node.size[1] < min) node.setSize([node.size[0], min]);
}

function curveRect(node) {
  const widget = node.widgets?.find((w) => w.name === "noisekit_curve");
  const top = (widget?.last_y ?? node.size[1] - CURVE_HEIGHT) + 6;
  return { x: 34, y: top, w: node.size[0] - 46, h: CURVE_HEIGHT - 20 };
}

function drawCurve(node, ctx) {
  const state = node.__noisekitCurve;
  if (!state) return;
  const rect = curveRect(node);
  ctx.save();
  ctx.fillStyle = "rgba(0,0,0,0.25)";
  ctx.fillRect(rect.x - 30, rect.y - 4, rect.w + 40, rect.h + 18);
  ctx.font = "10px sans-serif";
  if (!state.sigmas || state.sigmas.length < 2) {
    ctx.fillStyle = state.error ? "#f88" : "#999";
    ctx.fillText(state.error || "connect a schedule to see its curve", rect.x - 24, rect.y + 14, rect.w + 30);
    ctx.restore();
    return;
  }
  state.range = logRange(state.sigmas);
  state.points = curvePoints(state.sigmas, rect, state.range);
  ctx.strokeStyle = "#7cc4ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  state.points.forEach((p, k) => (k ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
  ctx.stroke();
  ctx.fillStyle = "#7cc4ff";
  for (const p of state.points) ctx.fillRect(p.x - 2, p.y - 2, 4, 4);
  ctx.fillStyle = "#ccc";
  ctx.fillText(`${Number((10 ** state.range[1]).toPrecision(3))}`, rect.x - 28, rect.y + 8);
  ctx.fillText(`${Number((10 ** state.range[0]).toPrecision(3))}`, rect.x - 28, rect.y + rect.h);
  const mark = state.points[state.mark];
  if (mark) {
    ctx.strokeStyle = "#ffb347";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(mark.x, rect.y);
    ctx.lineTo(mark.x, rect.y + rect.h);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#ffb347";
    ctx.fillText(`split at step ${mark.i}`, Math.min(mark.x + 3, rect.x + rect.w - 70), rect.y + rect.h - 2);
  }
  const hover = state.points[state.hover];
  if (hover) {
    ctx.fillStyle = "#fff";
    ctx.fillText(`step ${hover.i}  sigma ${Number(hover.sigma.toPrecision(4))}`, rect.x + 4, rect.y + 10);
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(hover.x - 4, hover.y - 4, 8, 8);
  }
  ctx.restore();
}

// The curve a SIGMAS input receives: the upstream node's drawn output, or null.
function upstreamSigmas(node, name) {
  const slot = node.findInputSlot?.(name) ?? -1;
  if (slot < 0) return null;
  const source = node.getInputNode?.(slot);
  const link = node.getInputLink?.(slot);
  const state = source?.__noisekitCurve;
  if (!state || !link) return null;
  return state.outputs?.[link.origin_slot] ?? (link.origin_slot === 0 ? state.sigmas : null);
}

// Redraw the noisekit curves fed by this node (tools and Custom Sigmas downstream).
function refreshDownstream(node) {
  for (let slot = 0; slot < (node.outputs?.length || 0); slot++) {
    for (const target of node.getOutputNodes?.(slot) || []) target.__noisekitCurve?.refresh?.();
  }
}

async function fetchCurve(node, inputs) {
  const state = node.__noisekitCurve;
  try {
    const response = await fetch(curveQuery(node.comfyClass || node.type, node.widgets || [], inputs));
    const body = await response.json();
    state.error = response.ok ? null : body.error;
    state.sigmas = response.ok ? body.sigmas : null;
    state.outputs = response.ok ? body.outputs : null;
  } catch (e) {
    state.error = String(e);
  }
}

// Schedule nodes draw their output; sigma tools draw theirs, except split nodes, which draw the
// incoming schedule with the split point marked.
async function refreshComputed(node, sigmaInputs, split) {
  const state = node.__noisekitCurve;
  const inputs = Object.fromEntries(sigmaInputs.map((name) => [name, upstreamSigmas(node, name)]));
  state.mark = -1;
  if (Object.values(inputs).some((sigmas) => !sigmas)) {
    Object.assign(state, { sigmas: null, outputs: null, error: null });
  } else {
    await fetchCurve(node, inputs);
    if (split && state.outputs) {
      const [high, low] = state.outputs;
      state.sigmas = [...high, ...low.slice(1)];
      state.mark = high.length - 1;
    }
  }
  node.setDirtyCanvas(true, true);
  refreshDownstream(node);
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

function setupComputed(node, nodeData) {
  const sigmaInputs = Object.entries(nodeData.input?.required || {})
    .filter(([, spec]) => spec[0] === "SIGMAS").map(([name]) => name);
  const split = (nodeData.output || []).length === 2;
  const state = (node.__noisekitCurve = { sigmas: null, points: [], hover: -1, mark: -1 });
  let timer = null;
  state.refresh = () => { clearTimeout(timer); timer = setTimeout(() => refreshComputed(node, sigmaInputs, split), 150); };
  watchWidgets(node, state.refresh);
  addCurveWidget(node, null);
  state.refresh();
}

function setupCustomSigmas(node) {
  const widget = (node.widgets || []).find((w) => w.name === "sigmas");
  if (!widget) return;
  const state = (node.__noisekitCurve = { sigmas: parseSigmas(widget.value), points: [], hover: -1, drag: -1 });
  const write = (sigmas) => {
    state.sigmas = sigmas;
    widget.value = formatSigmas(sigmas);
    node.setDirtyCanvas(true, true);
    refreshDownstream(node);
  };
  state.refresh = () => { // a connected `start` input is what the node outputs: show it
    const start = upstreamSigmas(node, "start");
    state.sigmas = start || parseSigmas(widget.value) || state.sigmas;
    node.setDirtyCanvas(true, true);
    refreshDownstream(node);
  };
  watchWidgets(node, state.refresh);
  node.addWidget?.("button", "set step count", null, () => {
    const steps = Number(window.prompt("Number of steps", String(state.sigmas.length - 1)));
    if (Number.isInteger(steps) && steps >= 1 && steps <= 1000) write(resample(state.sigmas, steps));
  }, { serialize: false });
  node.addWidget?.("button", "edit the input's curve", null, () => {
    const slot = node.findInputSlot?.("start") ?? -1;
    const start = upstreamSigmas(node, "start");
    if (!start) return;
    node.disconnectInput?.(slot); // from now on the widget's list (a copy of the input) is the schedule
    write(start.slice());
  }, { serialize: false });
  const editable = () => !upstreamSigmas(node, "start");
  let lastDown = { t: 0, x: 0, y: 0 };
  const onPointer = (event, pos) => {
    const kind = String(event.type);
    const rect = curveRect(node);
    if (!editable() || !state.range) return false;
    if (kind.endsWith("down")) {
      const hit = hitTest(state.points, pos[0], pos[1], 8);
      const now = Date.now();
      const double = now - lastDown.t < 400 && Math.hypot(pos[0] - lastDown.x, pos[1] - lastDown.y) < 6;
      lastDown = { t: double ? 0 : now, x: pos[0], y: pos[1] };
      if (double) { // on a point: remove it; elsewhere on the curve: add one there
        state.drag = -1;
        write(hit >= 0 ? removePoint(state.sigmas, hit) : insertPoint(state.sigmas, pos[0], pos[1], rect, state.range, bounds));
        return true;
      }
      if (hit >= 0 && state.sigmas[hit] > 0) { state.drag = hit; return true; }
      return false;
    }
    if (kind.endsWith("move") && state.drag >= 0) {
      state.sigmas[state.drag] = dragValue(state.sigmas, state.drag, pos[1], rect, state.range, bounds);
      widget.value = formatSigmas(state.sigmas);
      node.setDirtyCanvas(true, true);
      return true;
    }
    if (kind.endsWith("up") && state.drag >= 0) { state.drag = -1; write(state.sigmas); return true; }
    return false;
  };
  addCurveWidget(node, onPointer);
}

app?.registerExtension?.({
  name: "noisekit.sigmas",
  async setup() {
    try {
      const response = await fetch("/noisekit/presets");
      if (response.ok) bounds = presetBounds((await response.json()).presets);
    } catch (e) { /* keep the wide default bounds */ }
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const name = nodeData?.name || "";
    const isCustom = name === "NoisekitCustomSigmas";
    if (!isCustom && !name.startsWith("NoisekitSchedule") && !name.startsWith("NoisekitSigmas")) return;
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = created?.apply(this, arguments);
      if (isCustom) setupCustomSigmas(this);
      else setupComputed(this, nodeData);
      return result;
    };
    const connections = nodeType.prototype.onConnectionsChange;
    nodeType.prototype.onConnectionsChange = function () {
      const result = connections?.apply(this, arguments);
      this.__noisekitCurve?.refresh?.();
      return result;
    };
    const move = nodeType.prototype.onMouseMove;
    nodeType.prototype.onMouseMove = function (e, pos) { // hover read-out: step and sigma
      const state = this.__noisekitCurve;
      if (state) {
        state.hover = nearestStep(state.points, pos[0], curveRect(this));
        this.setDirtyCanvas(true, false);
      }
      return move?.apply(this, arguments);
    };
  },
});
