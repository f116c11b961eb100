// Drives the real ComfyUI frontend in Debian's chromium (never a downloaded browser) and prints one
// JSON line of what it saw; tests/comfyui/test_browser.py starts the server and asserts on it.
// usage: node browser_check.mjs URL SCREENSHOT.png [classic|nodes2]
// nodes2 turns on the newest frontend's "Modern Node Design (Nodes 2.0)", where nodes are DOM elements and
// a canvas widget draws into a canvas of its own: there the steps change goes through the widget's value and
// callback (what its input box does), and the curve is read back from that canvas's pixels.
import { launchChromium, openEditor } from "./chromium.mjs";

const [url, screenshot, mode = "classic"] = process.argv.slice(2);
const { context, page } = await launchChromium();
// Console errors with where they came from, uncaught exceptions, and failed requests: the test tells
// noisekit's apart from the offline frontend's own (no internet, no user.css).
const errors = [];
const pageErrors = [];
const failedRequests = [];
page.on("console", (msg) => { if (msg.type() === "error") errors.push(`${msg.text()} @ ${msg.location().url || "?"}`); });
page.on("pageerror", (e) => pageErrors.push(String(e?.stack || e)));
page.on("response", (r) => { if (r.status() >= 400) failedRequests.push(`${r.status()} ${r.url()}`); });
const result = { errors, pageErrors, failedRequests, mode };

try {
  await openEditor(page, url, mode === "nodes2");

  // Node-local point -> page pixels, through the canvas transform.
  const toPage = (id, lx, ly) => page.evaluate(([id, lx, ly]) => {
    const app = window.comfyAPI.app.app;
    const node = app.graph.getNodeById(id);
    const box = app.canvas.canvas.getBoundingClientRect();
    const { scale, offset } = app.canvas.ds;
    return [box.left + (node.pos[0] + lx + offset[0]) * scale, box.top + (node.pos[1] + ly + offset[1]) * scale];
  }, [id, lx, ly]);
  const add = (type, x, y) => page.evaluate(([type, x, y]) => {
    const node = window.LiteGraph.createNode(type);
    node.pos = [x, y];
    window.comfyAPI.app.app.graph.add(node);
    return node.id;
  }, [type, x, y]);
  const curve = (id) => page.evaluate((id) => {
    const state = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve;
    return { points: state.points.length, sigmas: state.sigmas, mark: state.mark ?? -1 };
  }, id);
  const widget = (id, name) => page.evaluate(([id, name]) =>
    window.comfyAPI.app.app.graph.getNodeById(id).widgets.find((w) => w.name === name).value, [id, name]);
  const waitPoints = (id, n) => page.waitForFunction(([id, n]) =>
    window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve?.points?.length === n, [id, n], { timeout: 20000 });

  // The blue pixels the curve widget drew into its own canvas (Nodes 2.0), or null in classic mode.
  const drawnPixels = (id) => page.evaluate((id) => {
    const canvas = document.querySelector(`[data-node-id="${id}"] canvas`);
    if (!canvas) return null;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let blue = 0;
    for (let k = 0; k < data.length; k += 4) if (data[k + 2] > 200 && data[k] < 160 && data[k + 3] > 0) blue++;
    return blue;
  }, id);
  const setWidget = (id, name, value) => page.evaluate(([id, name, value]) => {
    const w = window.comfyAPI.app.app.graph.getNodeById(id).widgets.find((w) => w.name === name);
    w.value = value;
    w.callback?.(value);
  }, [id, name, value]);

  // A schedule node draws its curve; a click on the steps widget's increment arrow redraws it.
  const karras = await add("NoisekitScheduleKarras", 60, 130);
  await waitPoints(karras, 21);
  result.karrasBefore = await curve(karras);
  if (mode === "nodes2") {
    result.karrasPixels = await drawnPixels(karras);
    await setWidget(karras, "steps", 21);
  } else {
    const arrow = await page.evaluate((id) => {
      const node = window.comfyAPI.app.app.graph.getNodeById(id);
      const w = node.widgets.find((w) => w.name === "steps");
      return [node.size[0] - 22, (w.last_y ?? w.y) + 10];
    }, karras);
    await page.mouse.click(...(await toPage(karras, ...arrow)));
  }
  await waitPoints(karras, 22);
  result.karrasSteps = await widget(karras, "steps");
  result.karrasAfter = await curve(karras);

  // A split tool fed by it marks the split step on the incoming curve.
  const split = await add("NoisekitSigmasSplit", 60, 460);
  await page.evaluate(([a, b]) => {
    const graph = window.comfyAPI.app.app.graph;
    graph.getNodeById(a).connect(0, graph.getNodeById(b), 0);
    const w = graph.getNodeById(b).widgets.find((w) => w.name === "step");
    w.value = 5;
    w.callback?.(5);
  }, [karras, split]);
  await page.waitForFunction((id) => window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve?.mark === 5,
    split, { timeout: 20000 });
  result.split = await curve(split);
  if (mode === "nodes2") result.splitPixels = await drawnPixels(split);

  // Custom Sigmas: "edit the input's curve" is disabled while nothing feeds `start`, enabled once a
  // schedule does; then drag point 3 upwards with the mouse, and double-click between two points.
  const custom = await add("NoisekitCustomSigmas", 420, 130);
  await waitPoints(custom, 11);
  const editButton = () => page.evaluate((id) => window.comfyAPI.app.app.graph.getNodeById(id).widgets
    .find((w) => w.name === "edit the input's curve")?.disabled ?? "missing", custom);
  result.editDisabledAlone = await editButton();
  await page.evaluate(([a, b]) => {
    const graph = window.comfyAPI.app.app.graph;
    graph.getNodeById(a).connect(0, graph.getNodeById(b), graph.getNodeById(b).findInputSlot("start"));
  }, [karras, custom]);
  await waitPoints(custom, 22);
  result.editDisabledFed = await editButton();
  await page.evaluate(([b]) => {
    const node = window.comfyAPI.app.app.graph.getNodeById(b);
    node.disconnectInput(node.findInputSlot("start"));
  }, [custom]);
  await waitPoints(custom, 11);
  result.editDisabledAgain = await editButton();
  result.customBefore = await widget(custom, "sigmas");
  result.customZero = await page.evaluate((id) => {
    const pts = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve.points;
    return { last: pts[pts.length - 1].y, lowest: pts[pts.length - 2].y, zero: pts[pts.length - 1].zero };
  }, custom);
  if (mode === "nodes2") { // the curve is the widget's own canvas there: drag point 3 on it, then type a list
    result.customPixels = await drawnPixels(custom);
    const [x3, y3] = await page.evaluate((id) => {
      const canvas = document.querySelector(`[data-node-id="${id}"] canvas`);
      const box = canvas.getBoundingClientRect(); // drawn at 2x: widget pixels = canvas.width / 2 across box.width
      const p = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve.points[3];
      const k = box.width / (canvas.width / 2);
      return [box.left + p.x * k, box.top + p.y * k];
    }, custom);
    await page.mouse.move(x3, y3);
    await page.mouse.down();
    await page.mouse.move(x3, y3 - 3, { steps: 3 });
    await page.mouse.up();
    result.customDragged = await widget(custom, "sigmas");
    await setWidget(custom, "sigmas", "14.6, 8, 4, 2, 1, 0.5, 0.25, 0.12, 0.06, 0.03, 0");
    await page.waitForFunction((id) => window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve?.sigmas?.[1] === 8,
      custom, { timeout: 20000 });
    result.customAfterTyping = await curve(custom);
  } else {
    const p3 = await page.evaluate((id) => {
      const p = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve.points[3];
      return [p.x, p.y];
    }, custom);
    const [x3, y3] = await toPage(custom, ...p3);
    await page.mouse.move(x3, y3);
    await page.mouse.down();
    await page.mouse.move(x3, y3 - 3, { steps: 3 });
    await page.mouse.up();
    result.customDragged = await widget(custom, "sigmas");
    const mid = await page.evaluate((id) => {
      const pts = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve.points;
      return [(pts[8].x + pts[9].x) / 2, (pts[8].y + pts[9].y) / 2];
    }, custom);
    await page.mouse.dblclick(...(await toPage(custom, ...mid)));
    await waitPoints(custom, 12);
    result.customAdded = await widget(custom, "sigmas");
  }

  // Tune Sigmas draws the levels its run reports (ComfyUI hands the node's ui to onExecuted) over the given
  // ones, and a Custom Sigmas fed by it takes them; both nodes leave again before the graph is saved.
  const tune = await add("NoisekitTuneSigmas", 20, 640);
  result.tuneBefore = await curve(tune);
  const fed = await add("NoisekitCustomSigmas", 420, 640);
  await page.evaluate(([a, b]) => {
    const graph = window.comfyAPI.app.app.graph;
    graph.getNodeById(a).connect(0, graph.getNodeById(b), graph.getNodeById(b).findInputSlot("start"));
    graph.getNodeById(a).onExecuted({ sigmas: [14.6, 2.4, 0.38, 0.03, 0], given: [14.6, 4, 0.6, 0.03, 0],
      caption: ["error 0.0379 -> 0.0264"], text: ["RMS distance ..."] });
  }, [tune, fed]);
  await waitPoints(tune, 5);
  await waitPoints(fed, 5);
  result.tuneAfter = await curve(tune);
  result.tuneFed = await curve(fed);
  if (mode === "nodes2") result.tunePixels = await drawnPixels(tune);
  await page.evaluate((ids) => {
    const graph = window.comfyAPI.app.app.graph;
    for (const id of ids) graph.remove(graph.getNodeById(id));
  }, [tune, fed]);

  // "set step count" (its number comes from window.prompt) resamples the curve through the route's
  // Resample Sigmas tool; this node leaves again too.
  const resample = await add("NoisekitCustomSigmas", 800, 130);
  await waitPoints(resample, 11);
  result.resampleBefore = await widget(resample, "sigmas");
  page.once("dialog", (dialog) => dialog.accept("6"));
  await page.evaluate((id) => window.comfyAPI.app.app.graph.getNodeById(id).widgets
    .find((w) => w.name === "set step count").callback(), resample);
  await waitPoints(resample, 7);
  result.resampled = await widget(resample, "sigmas");
  await page.evaluate((id) => window.comfyAPI.app.app.graph.remove(window.comfyAPI.app.app.graph.getNodeById(id)), resample);

  // Plot both schedules and save the picture; keep the graph as the editor saves it and as it queues it
  // (the Custom Sigmas widget is a plain list of numbers), for noisekit's runner to check against.
  const plot = await add("NoisekitSigmaPlot", 420, 460);
  const save = await add("SaveImage", 800, 460);
  await page.evaluate(([custom, split, plot, save]) => {
    const graph = window.comfyAPI.app.app.graph;
    graph.getNodeById(custom).connect(0, graph.getNodeById(plot), 0);
    graph.getNodeById(split).connect(0, graph.getNodeById(plot), graph.getNodeById(plot).findInputSlot("sigmas_2"));
    graph.getNodeById(plot).connect(0, graph.getNodeById(save), 0);
  }, [custom, split, plot, save]);
  // Its node overlays both curves before anything runs, on the axis chosen (then back to the default).
  const overlay = (axis) => page.waitForFunction(([id, axis]) => {
    const state = window.comfyAPI.app.app.graph.getNodeById(id).__noisekitCurve;
    return state?.plot?.axis === axis && state.plot.series.length === 2 &&
      { axis, series: state.plot.series, names: state.names, ticks: state.plot.ticks.length };
  }, [plot, axis], { timeout: 20000 }).then((handle) => handle.jsonValue());
  result.overlayLog = await overlay("log sigma");
  await setWidget(plot, "axis", "flow t");
  result.overlayFlow = await overlay("flow t");
  await page.waitForTimeout(200);
  await page.screenshot({ path: screenshot.replace(/\.png$/, "_overlay.png") });
  await setWidget(plot, "axis", "log sigma");
  await overlay("log sigma");
  result.workflow = await page.evaluate(() => window.comfyAPI.app.app.graph.serialize());
  const prompt = await page.evaluate(() => window.comfyAPI.app.app.graphToPrompt());
  result.savedWidgets = await page.evaluate((id) => window.comfyAPI.app.app.graph.getNodeById(id).serialize().widgets_values, custom);
  result.prompt = prompt.output;
  result.promptSigmas = Object.values(prompt.output).find((n) => n.class_type === "NoisekitCustomSigmas")?.inputs?.sigmas;
  await page.waitForTimeout(300);
  await page.screenshot({ path: screenshot });
} catch (e) {
  result.failure = String(e?.stack || e);
  await page.screenshot({ path: screenshot }).catch(() => {});
} finally {
  await context.close();
  console.log(JSON.stringify(result));
}
