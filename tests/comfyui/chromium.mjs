// Debian's chromium (never a downloaded browser) with the flags this offline machine needs, in a fresh
// profile: what the browser checks share.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchChromium() {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "noisekit-chromium-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  return { context, page: context.pages()[0] || (await context.newPage()) };
}

// The editor at URL once the node type ``probe`` is registered and the default workflow has loaded (it would
// replace what a check adds).
export async function loadEditor(page, url, probe) {
  await page.goto(url);
  await page.waitForFunction((probe) => window.LiteGraph?.registered_node_types?.[probe]
    && window.comfyAPI?.app?.app?.graph, probe, { timeout: 60000 });
  await page.waitForFunction(() => window.comfyAPI.app.app.graph._nodes?.length > 0, null, { timeout: 30000 })
    .catch(() => {});
}

// The editor with an empty canvas once the pack's nodes are registered; nodes2 turns on the newest frontend's
// "Modern Node Design".
export async function openEditor(page, url, nodes2 = false) {
  await fetch(`${url}/api/settings`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ "Comfy.VueNodes.Enabled": nodes2 }) });
  await loadEditor(page, url, "NoisekitScheduleKarras");
  await page.evaluate(() => window.comfyAPI.app.app.graph.clear());
}
