// Builds a few workflows in the real ComfyUI frontend (Debian's chromium, never a downloaded browser) and
// prints one JSON line: per workflow what the editor saves and what its graphToPrompt queues. The tests in
// tests/comfyui/test_comfy_runner.py compare `noisekit convert` with it live; the recorded copies in
// tests/runner/fixtures/comfyui/ check the conversion in CI.
// usage: node record_workflows.mjs URL
import { launchChromium, loadEditor } from "./chromium.mjs";

const [url] = process.argv.slice(2);
const { context, page } = await launchChromium();
const result = { pageErrors: [] };
page.on("pageerror", (e) => result.pageErrors.push(String(e?.stack || e)));

try {
  await loadEditor(page, url, "ProbeAnalyticModel");
  result.frontendVersion = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__);

  // Every builder runs in the page on an empty graph, with helpers to add nodes, set widgets and link.
  await page.evaluate(() => {
    window.noisekitBuild = (source) => {
      const app = window.comfyAPI.app.app;
      app.graph.clear();
      const add = (type, x, y, widgets = {}) => {
        const node = window.LiteGraph.createNode(type);
        node.pos = [x, y];
        app.graph.add(node);
        for (const [key, value] of Object.entries(widgets)) node.widgets.find((w) => w.name === key).value = value;
        return node;
      };
      const link = (a, slot, b, input) => a.connect(slot, b, typeof input === "number" ? input : b.findInputSlot(input));
      // eslint-disable-next-line no-new-func
      return new Function("app", "add", "link", `return (async () => { ${source} })()`)(app, add, link);
    };
  });
  const record = (name, build) => page.evaluate(async ([name, source]) => {
    await window.noisekitBuild(source);
    const { workflow, output } = await window.comfyAPI.app.app.graphToPrompt();
    return { name, workflow: JSON.parse(JSON.stringify(workflow)), prompt: output };
  }, [name, build]);

  // The analytic model through ComfyUI's KSampler: only core nodes and the test pack.
  const core = `
    const model = add("ProbeAnalyticModel", 0, 0, { target: 0.25, data_std: 0, channels: 4 });
    const cond = add("ProbeConditioning", 0, 200);
    const latent = add("EmptyLatentImage", 0, 300, { width: 64, height: 64, batch_size: 2 });
    const ks = add("KSampler", 400, 0, { seed: 42, control_after_generate: "fixed", steps: 10, cfg: 1.0,
                                         sampler_name: "euler", scheduler: "karras", denoise: 1.0 });
    const stats = add("ProbeLatentStats", 800, 0);
    link(model, 0, ks, "model"); link(cond, 0, ks, "positive"); link(cond, 0, ks, "negative");
    link(latent, 0, ks, "latent_image"); link(ks, 0, stats, "latent");`;
  const workflows = [await record("core_ksampler", core)];

  // The same inside a subgraph, with a bypassed node and a muted output inside it, a reroute, a PrimitiveInt
  // into the seed (a widget turned input, promoted to a subgraph input) and a legacy PrimitiveNode widget.
  workflows.push(await record("subgraph_ksampler", core + `
    const scale = add("LatentMultiply", 200, 300, { multiplier: 3.0 });
    link(latent, 0, scale, "samples"); link(scale, 0, ks, "latent_image");
    scale.mode = 4;
    const muted = add("ProbeLatentStats", 800, 300);
    link(ks, 0, muted, "latent");
    muted.mode = 2;
    const seed = add("PrimitiveInt", -300, 100, { value: 7, control_after_generate: "fixed" });
    link(seed, 0, ks, "seed");
    const reroute = add("Reroute", 200, 250);
    link(cond, 0, reroute, 0); link(reroute, 0, ks, "negative");
    const prim = add("PrimitiveNode", -300, 400);
    link(prim, 0, latent, "batch_size");
    prim.widgets[0].value = 3;
    prim.widgets[0].callback?.(3);
    app.graph.convertToSubgraph(new Set([scale, ks, muted]));`));

  // Core, noisekit and the test pack mixed: ComfyUI's SamplerCustom with noisekit's schedule.
  workflows.push(await record("mixed_samplercustom", `
    const model = add("ProbeAnalyticModel", 0, 0, { target: 0.25, data_std: 0, channels: 4 });
    const cond = add("ProbeConditioning", 0, 200);
    const latent = add("EmptyLatentImage", 0, 300, { width: 64, height: 64, batch_size: 1 });
    const select = add("KSamplerSelect", 0, 450, { sampler_name: "euler" });
    const sigmas = add("NoisekitScheduleKarras", 0, 550, { steps: 8 });
    const sc = add("SamplerCustom", 400, 0, { noise_seed: 5, control_after_generate: "fixed", cfg: 1.0 });
    const stats = add("ProbeLatentStats", 800, 0);
    link(model, 0, sc, "model"); link(cond, 0, sc, "positive"); link(cond, 0, sc, "negative");
    link(select, 0, sc, "sampler"); link(sigmas, 0, sc, "sigmas"); link(latent, 0, sc, "latent_image");
    link(sc, 0, stats, "latent");`));

  // A subgraph inside a subgraph.
  workflows.push(await record("nested_subgraph", core + `
    const inner = app.graph.convertToSubgraph(new Set([ks, latent])).node;
    app.graph.convertToSubgraph(new Set([inner, cond]));`));
  // A subgraph input that feeds a widget and is left unlinked outside: the subgraph node shows the widget.
  workflows.push(await record("subgraph_promoted_widget", core + `
    const seed = add("PrimitiveInt", -300, 100, { value: 7, control_after_generate: "fixed" });
    link(seed, 0, ks, "seed");
    const outer = app.graph.convertToSubgraph(new Set([ks])).node;
    app.graph.remove(seed);
    const w = outer.widgets?.find((w) => w.name === "seed");
    if (w) { w.value = 99; w.callback?.(99); }`));
  // A group node (the older feature, still loaded by the frontend): EmptyLatentImage + KSampler grouped.
  // Its name is asked for in a dialog, so the conversion runs as the editor's command and the name is typed.
  await page.evaluate(async (source) => {
    const app = window.comfyAPI.app.app;
    const nodes = await window.noisekitBuild(`${source}; return [latent, ks];`);
    nodes[1].widgets.find((w) => w.name === "steps").value = 6;
    app.canvas.deselectAll();
    app.canvas.selectItems(nodes);
    app.extensionManager.command.execute("Comfy.GroupNode.ConvertSelectedNodesToGroupNode");
  }, core);
  const nameInput = page.locator(".p-dialog input").first();
  await nameInput.waitFor({ timeout: 20000 });
  await nameInput.fill("noisekit_group");
  await nameInput.press("Enter");
  await page.waitForFunction(() => window.comfyAPI.app.app.graph._nodes.some((n) => n.type.includes("noisekit_group")),
    null, { timeout: 20000 });
  workflows.push(await page.evaluate(async () => {
    const { workflow, output } = await window.comfyAPI.app.app.graphToPrompt();
    return { name: "group_node", workflow: JSON.parse(JSON.stringify(workflow)), prompt: output };
  }));
  result.workflows = workflows;
} catch (e) {
  result.failure = String(e?.stack || e);
} finally {
  await context.close();
  console.log(JSON.stringify(result));
}
