// noisekit frontend extension: live sigma curves on schedule and sigma-tool nodes (values from the
// Python nodes through /noisekit/sigmas), a drag-to-edit curve on Custom Sigmas, and Tune Sigmas' result.
// Everything is guarded: without these extension hooks the nodes still work, only the picture is absent.
// Sigma Plot overlays the schedules wired into it, on its axis, before the graph runs.
// Two renderers call the curve widget's draw(): the classic canvas (node coordinates, redrawn with the
// canvas) and "Modern Node Design" (Nodes 2.0: a canvas of the widget's own, y = 0, redrawn only through
// widget.triggerDraw), so the curve's rect comes from draw's arguments and every change calls redraw().
import { api } from "../../scripts/api.js";
import { app } from "../../scripts/app.js";
import {
  curvePoints, curveQuery, dragValue, formatSigmas, hitTest, insertPoint, logRange, nearestStep,
  overlayPoints, parseSigmas, plotQuery, presetBounds, removePoint, zeroAxis,
} from "./lib/curve.js";

const CURVE_HEIGHT = 110;
let bounds = { min: 1e-4, max: 1e4, snap: [] }; // replaced by the model presets once the route answers

// The curve lives in a canvas widget of its own, so the node's layout gives it room below the other
// widgets (a multiline text box would otherwise cover it); serialize: false keeps it out of the graph.
function addCurveWidget(node, mouse) {
  const widget = {
    name: "noisekit_curve", type: "noisekit_curve", value: null, serialize: false, options: { serialize: false },
    computeSize: (width) => [width, CURVE_HEIGHT],
    draw(ctx, drawnNode, width, y) {
      this.last_y = y;
      if (drawnNode.__noisekitCurve) drawnNode.__noisekitCurve.rect = { x: 34, y: y + 6, w: width - 46, h: CURVE_HEIGHT - 30 };
      if (!drawnNode.flags?.collapsed) (drawnNode.__noisekitCurve?.draw ?? drawCurve)(drawnNode, ctx);
    },
    mouse: (event, pos) => (mouse ? mouse(event, pos) : false),
  };
  if (node.addCustomWidget) node.addCustomWidget(widget);
  else (node.widgets ||= []).push(widget);
  const min = (node.computeSize ? node.computeSize()[1] : node.size[1]);
  if (node.size[1] < min) node.setSize([node.size[0], min]);
}

// Where the curve was last drawn, in the coordinates pointer events arrive in.
function curveRect(node) {
  return node.__noisekitCurve?.rect ?? { x: 34, y: node.size[1] - CURVE_HEIGHT + 6, w: node.size[0] - 46, h: CURVE_HEIGHT - 30 };
}

// Redraw in either renderer.
function redraw(node) {
  node.setDirtyCanvas?.(true, true);
  node.widgets?.find((w) => w.name === "noisekit_curve")?.triggerDraw?.();
}

function drawCurve(node, ctx) {
  const state = node.__noisekitCurve;
  if (!state) return;
  const rect = curveRect(node);
  ctx.save();
  ctx.fillStyle = "rgba(0,0,0,0.25)";
  ctx.fillRect(rect.x - 30, rect.y - 4, rect.w + 40, rect.h + 22);
  ctx.font = "10px sans-serif";
  if (!state.sigmas || state.sigmas.length < 2) {
    ctx.fillStyle = state.error ? "#f88" : "#999";
    ctx.fillText(state.error || state.empty, rect.x - 24, rect.y + 14, rect.w + 30);
    ctx.restore();
    return;
  }
  state.range = logRange(state.sigmas);
  state.points = curvePoints(state.sigmas, rect, state.range);
  const zero = zeroAxis(rect); // sigma = 0 has an axis of its own below the log scale
  if (state.given?.length > 1) { // Tune Sigmas: the schedule it started from, faint, under the tuned one
    ctx.strokeStyle = "#777";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    curvePoints(state.given, rect, state.range).forEach((p, k) => (k ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.strokeStyle = "#666";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(rect.x, zero);
  ctx.lineTo(rect.x + rect.w, zero);
  ctx.stroke();
  ctx.strokeStyle = "#7cc4ff";
  ctx.lineWidth = 1.5;
  state.points.forEach((p, k) => { // solid between positive sigmas, dashed down to a zero
    if (!k) return;
    const prev = state.points[k - 1];
    ctx.setLineDash(p.zero || prev.zero ? [2, 2] : []);
    ctx.beginPath();
    ctx.moveTo(prev.x, prev.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
  });
  ctx.setLineDash([]);
  ctx.fillStyle = "#7cc4ff";
  for (const p of state.points) {
    if (p.zero) { // a ring on the zero axis
      ctx.beginPath();
      ctx.arc(p.x, p.y, 3, 0, 2 * Math.PI);
      ctx.stroke();
    } else ctx.fillRect(p.x - 2, p.y - 2, 4, 4);
  }
  ctx.fillStyle = "#ccc";
  ctx.fillText(`${Number((10 ** state.range[1]).toPrecision(3))}`, rect.x - 28, rect.y + 8);
  ctx.fillText(`${Number((10 ** state.range[0]).toPrecision(3))}`, rect.x - 28, rect.y + rect.h);
  ctx.fillText("0", rect.x - 28, zero + 4);
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
  if (state.caption) {
    ctx.fillStyle = "#ccc";
    ctx.fillText(state.caption, rect.x + 4, rect.y + rect.h - 2, rect.w - 8);
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
    const response = await api.fetchApi(curveQuery(node.comfyClass || node.type, node.widgets || [], inputs));
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
  redraw(node);
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
  const state = (node.__noisekitCurve = { sigmas: null, points: [], hover: -1, mark: -1,
    empty: sigmaInputs.length ? "connect a schedule to see its curve" : "computing the schedule..." });
  let timer = null;
  state.refresh = () => { clearTimeout(timer); timer = setTimeout(() => refreshComputed(node, sigmaInputs, split), 150); };
  watchWidgets(node, state.refresh);
  addCurveWidget(node, null);
  state.refresh();
}

function setupCustomSigmas(node) {
  const widget = (node.widgets || []).find((w) => w.name === "sigmas");
  if (!widget) return;
  const state = (node.__noisekitCurve = { sigmas: parseSigmas(widget.value), points: [], hover: -1, drag: -1,
    empty: "type at least two sigmas" });
  let editInput = null;
  const write = (sigmas) => {
    state.sigmas = sigmas;
    widget.value = formatSigmas(sigmas);
    redraw(node);
    refreshDownstream(node);
  };
  state.refresh = () => { // a connected `start` input is what the node outputs: show it
    const start = upstreamSigmas(node, "start");
    state.sigmas = start || parseSigmas(widget.value) || state.sigmas;
    if (editInput) editInput.disabled = !start; // nothing to take over without a connected schedule
    redraw(node);
    refreshDownstream(node);
  };
  watchWidgets(node, state.refresh);
  node.addWidget?.("button", "set step count", null, async () => {
    const steps = Number(window.prompt("Number of steps", String(state.sigmas.length - 1)));
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= 1000)) return;
    // the Resample Sigmas tool's own Python: shape, both ends and a final 0 kept
    const query = curveQuery("NoisekitSigmasResample", [{ name: "steps", value: steps }], { sigmas: state.sigmas });
    try {
      const response = await api.fetchApi(query);
      const body = await response.json();
      if (response.ok) write(body.sigmas);
      else { state.error = body.error; redraw(node); }
    } catch (e) {
      state.error = String(e);
      redraw(node);
    }
  }, { serialize: false });
  editInput = node.addWidget?.("button", "edit the input's curve", null, () => {
    const slot = node.findInputSlot?.("start") ?? -1;
    const start = upstreamSigmas(node, "start");
    if (!start) return;
    node.disconnectInput?.(slot); // from now on the widget's list (a copy of the input) is the schedule
    write(start.slice());
  }, { serialize: false }) ?? null;
  if (editInput) editInput.disabled = true; // until a schedule is connected to `start`
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
      redraw(node);
      return true;
    }
    if (kind.endsWith("up") && state.drag >= 0) { state.drag = -1; write(state.sigmas); return true; }
    return false;
  };
  addCurveWidget(node, onPointer);
}

// Sigma Plot: its connected schedules overlaid on its axis, as the chart it makes will draw them (heights,
// ticks and colours from /noisekit/plot), with the upstream nodes' titles (or the labels widget) as legend.
function drawOverlay(node, ctx) {
  const state = node.__noisekitCurve;
  const rect = curveRect(node);
  const plot = state.plot;
  ctx.save();
  ctx.fillStyle = "rgba(0,0,0,0.25)";
  ctx.fillRect(rect.x - 30, rect.y - 4, rect.w + 40, rect.h + 22);
  ctx.font = "10px sans-serif";
  if (!plot) {
    ctx.fillStyle = state.error ? "#f88" : "#999";
    ctx.fillText(state.error || state.empty, rect.x - 24, rect.y + 14, rect.w + 30);
    ctx.restore();
    return;
  }
  ctx.strokeStyle = "#555";
  ctx.fillStyle = "#ccc";
  let last = Infinity;
  for (const [height, text] of plot.ticks) {
    const y = height === null ? zeroAxis(rect) : rect.y + rect.h * (1 - height);
    if (last - y < 11) continue; // labels that would overlap the one below are skipped, as on the chart
    last = y;
    ctx.beginPath();
    ctx.moveTo(rect.x, y);
    ctx.lineTo(rect.x + rect.w, y);
    ctx.stroke();
    ctx.fillText(text, rect.x - 28, y + 3, 26);
  }
  overlayPoints(plot.series, rect).forEach((points, k) => {
    ctx.strokeStyle = ctx.fillStyle = plot.colours[k];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
    ctx.stroke();
    for (const p of points) ctx.fillRect(p.x - 2, p.y - 2, 4, 4);
    ctx.fillText(state.names[k], rect.x + rect.w - 90, rect.y + 10 + 11 * k, 88);
  });
  ctx.fillStyle = "#ccc";
  ctx.fillText(plot.label, rect.x + 4, rect.y + rect.h - 2, rect.w / 2);
  ctx.restore();
}

function setupPlot(node) {
  const inputNames = ["sigmas_1", "sigmas_2", "sigmas_3", "sigmas_4"];
  const state = (node.__noisekitCurve = { plot: null, names: [], draw: drawOverlay,
    empty: "connect schedules to compare them here" });
  const widget = (name) => (node.widgets || []).find((w) => w.name === name);
  const refreshPlot = async () => {
    const inputs = {};
    const names = [];
    const labels = String(widget("labels")?.value || "").split(",").map((t) => t.trim());
    for (const name of inputNames) {
      const sigmas = upstreamSigmas(node, name);
      if (!sigmas) continue;
      inputs[name] = sigmas;
      const source = node.getInputNode?.(node.findInputSlot?.(name) ?? -1);
      names.push(labels[names.length] || String(source?.title || name).replace(/ \(noisekit\)$/, ""));
    }
    Object.assign(state, { plot: null, error: null, names });
    if (names.length) {
      try {
        const response = await api.fetchApi(plotQuery(widget("axis")?.value || "log sigma", inputs));
        const body = await response.json();
        if (response.ok) state.plot = body;
        else state.error = body.error;
      } catch (e) {
        state.error = String(e);
      }
    }
    redraw(node);
  };
  let timer = null;
  state.refresh = () => { clearTimeout(timer); timer = setTimeout(refreshPlot, 150); };
  watchWidgets(node, state.refresh);
  addCurveWidget(node, null);
  state.refresh();
}

// Tune Sigmas computes its levels only when the graph runs: its ui message carries them (and the given
// ones, drawn faintly), and nodes downstream (Custom Sigmas' "edit the input's curve") see them as its output.
function setupTuned(nodeType) {
  const created = nodeType.prototype.onNodeCreated;
  nodeType.prototype.onNodeCreated = function () {
    const result = created?.apply(this, arguments);
    this.__noisekitCurve = { sigmas: null, points: [], hover: -1, mark: -1,
      empty: "queue the graph: the tuned levels are drawn here" };
    addCurveWidget(this, null);
    return result;
  };
  const executed = nodeType.prototype.onExecuted;
  nodeType.prototype.onExecuted = function (message) {
    const result = executed?.apply(this, arguments);
    const state = this.__noisekitCurve;
    if (state && Array.isArray(message?.sigmas)) {
      Object.assign(state, { sigmas: message.sigmas, given: message.given, caption: message.caption?.[0] });
      redraw(this);
      refreshDownstream(this);
    }
    return result;
  };
}

app?.registerExtension?.({
  name: "noisekit.sigmas",
  async setup() {
    try {
      const response = await api.fetchApi("/noisekit/presets");
      if (response.ok) bounds = presetBounds((await response.json()).presets);
    } catch (e) { /* keep the wide default bounds */ }
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const name = nodeData?.name || "";
    const isCustom = name === "NoisekitCustomSigmas";
    const isPlot = name === "NoisekitSigmaPlot";
    if (name === "NoisekitTuneSigmas") return setupTuned(nodeType);
    if (!isCustom && !isPlot && !name.startsWith("NoisekitSchedule") && !name.startsWith("NoisekitSigmas")) return;
    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = created?.apply(this, arguments);
      if (isCustom) setupCustomSigmas(this);
      else if (isPlot) setupPlot(this);
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
      if (state?.points) {
        state.hover = nearestStep(state.points, pos[0], curveRect(this));
        this.setDirtyCanvas(true, false);
      }
      return move?.apply(this, arguments);
    };
  },
});
