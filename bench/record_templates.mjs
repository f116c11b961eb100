// Loads each UI workflow named in LIST (a JSON list of paths) into the ComfyUI frontend at URL, in Debian's
// chromium, and writes OUT: {frontendVersion, prompts: {path: graphToPrompt's output}}. bench/convert_templates.py
// runs it; the frontend is whichever the server serves (--front-end-root).
// usage: node bench/record_templates.mjs URL LIST OUT
import { readFileSync, writeFileSync } from "node:fs";
import { launchChromium } from "../tests/comfyui/chromium.mjs";

const [url, list, outFile] = process.argv.slice(2);
await fetch(`${url}/api/settings`, { method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ "Comfy.Workflow.ShowMissingModelsWarning": false, "Comfy.Workflow.ShowMissingNodesWarning": false }) });
const { context, page } = await launchChromium();
const out = { prompts: {}, pageErrors: [] };
page.on("pageerror", (e) => out.pageErrors.push(String(e)));
try {
  await page.goto(url);
  await page.waitForFunction(() => window.comfyAPI?.app?.app?.graph, null, { timeout: 60000 });
  await page.waitForFunction(() => window.comfyAPI.app.app.graph._nodes?.length > 0, null, { timeout: 30000 })
    .catch(() => {});
  out.frontendVersion = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__);
  for (const path of JSON.parse(readFileSync(list, "utf8"))) {
    const workflow = JSON.parse(readFileSync(path, "utf8"));
    out.prompts[path] = await page.evaluate(async (workflow) => {
      const app = window.comfyAPI.app.app;
      await app.loadGraphData(workflow, true, true, null);
      return (await app.graphToPrompt()).output;
    }, workflow).catch((e) => ({ failure: String(e) }));
  }
} finally {
  await context.close();
  writeFileSync(outFile, JSON.stringify(out));
}
