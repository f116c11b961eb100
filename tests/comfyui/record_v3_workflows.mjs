// Records, in the newest ComfyUI frontend (NOISEKIT_FRONTEND_ROOT, e.g. 1.58) driven in Debian's chromium, what
// its graphToPrompt queues for workflows that exercise what the pinned 1.35 frontend cannot show: V3 inputs
// (DynamicCombo with sub-inputs, nested; Autogrow; combo value controls; a seed that asks for no control), a save
// from an older frontend that lacks a widget value, a save with more widget values than widgets, a subgraph whose
// inner node ids collide with top-level ones (the frontend renumbers them on load), and a subgraph node saved
// before proxyWidgets. Prints one JSON line: per workflow the UI workflow (as saved, or as loaded for the
// hand-made saves) and the prompt. tests/comfyui/test_comfy_runner.py compares `noisekit convert` with it live;
// the recorded copy in tests/runner/fixtures/comfyui/frontend_v3_workflows.json checks the conversion in CI.
// usage: node record_v3_workflows.mjs URL
import { launchChromium, loadEditor } from "./chromium.mjs";

const [url] = process.argv.slice(2);
const { context, page } = await launchChromium();
const result = { pageErrors: [] };
page.on("pageerror", (e) => result.pageErrors.push(String(e?.stack || e)));

try {
  await loadEditor(page, url, "RunnerPackDynamic");
  result.frontendVersion = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__);

  // A builder runs in the page on an empty graph and may return a save to load (a hand-made older save);
  // then what is recorded is that save and the prompt the frontend queues after loading it.
  await page.evaluate(() => {
    const app = window.comfyAPI.app.app;
    const widget = (node, name) => node.widgets.find((w) => w.name === name);
    const add = (type, x, y, widgets = {}) => {
      const node = window.LiteGraph.createNode(type);
      node.pos = [x, y];
      app.graph.add(node);
      for (const [key, value] of Object.entries(widgets)) widget(node, key).value = value;
      return node;
    };
    const link = (a, slot, b, input) => a.connect(slot, b, typeof input === "number" ? input : b.findInputSlot(input));
    const save = () => JSON.parse(JSON.stringify(app.graph.serialize()));
    window.noisekitRecord = async (name, source) => {
      app.graph.clear();
      // eslint-disable-next-line no-new-func
      const made = await new Function("app", "add", "link", "widget", "save", `return (async () => { ${source} })()`)(
        app, add, link, widget, save);
      if (made) await app.loadGraphData(structuredClone(made), true, true, null);
      const { workflow, output } = await app.graphToPrompt();
      return { name, workflow: made ?? JSON.parse(JSON.stringify(workflow)), prompt: output };
    };
  });
  const record = (name, source) => page.evaluate(([n, s]) => window.noisekitRecord(n, s), [name, source]);
  const workflows = [];

  // ComfyUI's own DynamicCombo (ResizeImageMaskNode): chosen sizes, and "match size" with a socket sub-input;
  // PreviewImage and MaskPreview as outputs.
  workflows.push(await record("dynamic_combo", `
    const image = add("EmptyImage", 0, 0, { width: 64, height: 32, color: 0x336699 });
    const resize = add("ResizeImageMaskNode", 300, 0);
    widget(resize, "resize_type").value = "scale dimensions";
    widget(resize, "resize_type.width").value = 40;
    widget(resize, "resize_type.height").value = 24;
    widget(resize, "resize_type.crop").value = "disabled";
    link(image, 0, resize, "input");
    const other = add("EmptyImage", 0, 300, { width: 20, height: 10 });
    const match = add("ResizeImageMaskNode", 300, 300);
    widget(match, "resize_type").value = "match size";
    link(image, 0, match, "input"); link(other, 0, match, "resize_type.match");
    const preview = add("PreviewImage", 600, 0); link(resize, 0, preview, "images");
    const mask = add("ImageToMask", 600, 300, { channel: "green" }); link(match, 0, mask, "image");
    const maskPreview = add("MaskPreview", 900, 300); link(mask, 0, maskPreview, "mask");`));

  // The runner pack's V3 node: a nested DynamicCombo, an Autogrow of named sockets, a combo with value
  // controls and a seed without. 0 * 3 + 0.25 + 0 + 0 = 0.25 everywhere.
  workflows.push(await record("v3_runner_pack", `
    const latent = add("EmptyLatentImage", 0, 0, { width: 64, height: 64, batch_size: 1 });
    const dynamic = add("RunnerPackDynamic", 300, 0, { pick: "b", seed: 5 });
    widget(dynamic, "mode").value = "scale";
    widget(dynamic, "mode.factor").value = 3;
    widget(dynamic, "mode.offset").value = "add";
    widget(dynamic, "mode.offset.amount").value = 0.25;
    link(latent, 0, dynamic, "latent");
    link(latent, 0, dynamic, "extras.first"); link(latent, 0, dynamic, "extras.second");
    const stats = add("ProbeLatentStats", 600, 0); link(dynamic, 0, stats, "latent");`));

  // ComfyUI's Autogrow (BatchImagesNode): three images in.
  workflows.push(await record("autogrow", `
    const a = add("EmptyImage", 0, 0, { width: 16, height: 16, color: 0xff0000 });
    const b = add("EmptyImage", 0, 200, { width: 16, height: 16, color: 0x00ff00 });
    const batch = add("BatchImagesNode", 300, 0);
    link(a, 0, batch, "images.image0"); link(b, 0, batch, "images.image1"); link(a, 0, batch, "images.image2");
    const preview = add("PreviewImage", 600, 0); link(batch, 0, preview, "images");`));

  // A save from a frontend older than ImageScaleToTotalPixels' resolution_steps: its value is missing.
  workflows.push(await record("older_save", `
    const image = add("EmptyImage", 0, 0, { width: 32, height: 32 });
    const scale = add("ImageScaleToTotalPixels", 300, 0, { megapixels: 0.01, resolution_steps: 8 });
    link(image, 0, scale, "image");
    const preview = add("PreviewImage", 600, 0); link(scale, 0, preview, "images");
    const saved = save();
    saved.nodes.find((n) => n.type === "ImageScaleToTotalPixels").widgets_values.pop();
    return saved;`));

  // More widget values than widgets (a save from a ComfyUI whose node had one more): the frontend drops them.
  workflows.push(await record("extra_values", `
    const image = add("EmptyImage", 0, 0, { width: 8, height: 8 });
    const preview = add("PreviewImage", 300, 0); link(image, 0, preview, "images");
    const saved = save();
    saved.nodes.find((n) => n.type === "EmptyImage").widgets_values.push(7, "spare");
    return saved;`));

  // A subgraph whose inner nodes have the ids of top-level nodes: loading renumbers them.
  const subgraph = `
    const model = add("ProbeAnalyticModel", 0, 0, { target: 0.25, data_std: 0, channels: 4 });
    const cond = add("ProbeConditioning", 0, 200);
    const latent = add("EmptyLatentImage", 0, 300, { width: 64, height: 64, batch_size: 1 });
    const ks = add("KSampler", 400, 0, { seed: 42, control_after_generate: "fixed", steps: 4, cfg: 1.0,
                                         sampler_name: "euler", scheduler: "karras", denoise: 1.0 });
    const stats = add("ProbeLatentStats", 800, 0);
    link(model, 0, ks, "model"); link(cond, 0, ks, "positive"); link(cond, 0, ks, "negative");
    link(latent, 0, ks, "latent_image"); link(ks, 0, stats, "latent");
    const seed = add("PrimitiveInt", -300, 100, { value: 7, control_after_generate: "fixed" });
    link(seed, 0, ks, "seed");
    const outer = app.graph.convertToSubgraph(new Set([ks, latent])).node;
    app.graph.remove(seed);
    const w = outer.widgets?.find((w) => w.name === "seed");
    if (w) { w.value = 99; w.callback?.(99); }
    const saved = save();`;
  workflows.push(await record("colliding_ids", subgraph + `
    const definition = saved.definitions.subgraphs[0];
    const tops = saved.nodes.filter((n) => n.type !== definition.id).map((n) => n.id);
    definition.nodes.forEach((inner, k) => {
      const old = inner.id, taken = tops[k % tops.length];
      inner.id = taken;
      for (const l of definition.links) {
        if (l.origin_id === old) l.origin_id = taken;
        if (l.target_id === old) l.target_id = taken;
      }
      for (const n of saved.nodes) for (const p of n.properties?.proxyWidgets ?? []) if (String(p[0]) === String(old)) p[0] = String(taken);
    });
    return saved;`));

  // The same subgraph saved before proxyWidgets existed: the subgraph node's widgets_values alone.
  workflows.push(await record("legacy_promoted_widget", subgraph + `
    for (const n of saved.nodes) if (n.properties) delete n.properties.proxyWidgets;
    return saved;`));
  result.workflows = workflows;
} catch (e) {
  result.failure = String(e?.stack || e);
} finally {
  await context.close();
  console.log(JSON.stringify(result));
}
