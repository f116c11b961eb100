// What the real ComfyUI frontend shows of the pack's help pages and example workflows, in Debian's chromium;
// prints one JSON line, tests/comfyui/test_browser.py asserts on it.
// usage: node docs_check.mjs URL SCREENSHOT_DIR NODE_TYPE
// 1. a NODE_TYPE node on the canvas, selected: the selection toolbox's info button opens its help page
//    (web/docs/NODE_TYPE.md, served under /extensions/noisekit/docs/) in the side panel: its text and pictures.
// 2. the template browser's noisekit category: each example workflow's card and its thumbnail.
import { launchChromium, openEditor } from "./chromium.mjs";

const [url, shots, nodeType] = process.argv.slice(2);
const { context, page } = await launchChromium();
const pageErrors = [];
const thumbnails = []; // the template browser's requests for noisekit's thumbnails
page.on("pageerror", (e) => pageErrors.push(String(e?.stack || e)));
page.on("response", (r) => {
  if (r.url().includes("/workflow_templates/noisekit/")) {
    thumbnails.push({ url: r.url(), status: r.status(), type: r.headers()["content-type"] });
  }
});
const result = { pageErrors, thumbnails };

try {
  await openEditor(page, url);
  await page.evaluate((type) => {
    const app = window.comfyAPI.app.app;
    const node = window.LiteGraph.createNode(type);
    node.pos = [300, 250];
    app.graph.add(node);
    app.canvas.selectNode(node);
    app.canvas.setDirty(true, true);
  }, nodeType);
  await page.locator('[data-testid="info-button"]').click();
  const picture = `img[src*="/docs/images/${nodeType}."]`;
  await page.waitForFunction((sel) => document.querySelector(sel)?.complete, picture, { timeout: 30000 });
  result.help = await page.evaluate((sel) => {
    const page = document.querySelector(sel).closest('[class*="markdown-content"]');
    page.querySelector("img").scrollIntoView();
    return { text: page.innerText, images: [...page.querySelectorAll("img")].map((img) => ({
      src: img.src, complete: img.complete, naturalWidth: img.naturalWidth })) };
  }, picture);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${shots}/help_${nodeType}.png` });
} catch (e) {
  result.helpFailure = String(e?.stack || e);
  await page.screenshot({ path: `${shots}/help_${nodeType}.png` }).catch(() => {});
}

try {
  await page.getByRole("button", { name: "Templates", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText("noisekit", { exact: true }).first().click(); // under "Extensions" in its menu
  // each card, scrolled into view (its picture loads then), once its picture has come or failed
  result.cards = [];
  for (const card of await dialog.locator('[data-testid^="template-workflow-"]').all()) {
    await card.scrollIntoViewIfNeeded();
    const picture = card.locator("img").first();
    await picture.waitFor({ timeout: 20000 }).catch(() => {});
    result.cards.push(await card.evaluate((el) => {
      const img = el.querySelector("img");
      return { name: el.dataset.testid.replace("template-workflow-", ""), src: img?.src ?? null,
        complete: img?.complete ?? false, naturalWidth: img?.naturalWidth ?? 0 };
    }));
  }
  await dialog.locator('[data-testid^="template-workflow-"]').first().scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${shots}/templates.png` });
} catch (e) {
  result.templatesFailure = String(e?.stack || e);
  await page.screenshot({ path: `${shots}/templates.png` }).catch(() => {});
} finally {
  await context.close();
  console.log(JSON.stringify(result));
}
