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
