// Page weight and speed of the app (a benchmark, run by `cargo bench --bench api`): the
// JS and CSS transferred for the dashboard (compressed), the time from opening the
// dashboard to its job cards, the time from opening the Delivery page to its four tiles,
// weekly trend and repository table, and scrolling 10,000 work items (frame times while
// the virtualised table scrolls from top to bottom). Prints figures; asserts nothing.
import { chromium } from "playwright-core";

const base = process.env.PULSE_UI_BASE;
const browser = await chromium.launch({
  executablePath: process.env.PULSE_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await page.goto(`${base}/login`);
await page.getByLabel("E-mail").fill(process.env.PULSE_UI_EMAIL);
await page.getByLabel("Password").fill(process.env.PULSE_UI_PASSWORD);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForSelector(".card, main p");

// A cold load of the dashboard: no cache.
const context = page.context();
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
let bytes = 0;
cdp.on("Network.loadingFinished", (event) => {
  bytes += event.encodedDataLength;
});
const started = Date.now();
await page.goto(`${base}/`);
await page.waitForSelector(".card, main p");
const usable = Date.now() - started;
const assets = await page.evaluate(() =>
  performance
    .getEntriesByType("resource")
    .filter((r) => /\.(js|css)$/.test(new URL(r.name).pathname))
    .reduce((sum, r) => sum + r.encodedBodySize, 0),
);
console.log(
  `  dashboard: JS+CSS ${(assets / 1024).toFixed(1)} KB compressed (all responses ${(bytes / 1024).toFixed(1)} KB), usable after ${usable} ms`,
);

// The Delivery page over every pull request and deployment: its four reports side by side.
const deliveryStarted = Date.now();
await page.goto(`${base}/delivery`);
await page.waitForSelector(".tile", { timeout: 60_000 });
await page.waitForSelector("figure, main p:not(.loading)", { timeout: 60_000 });
await page.waitForFunction(() => document.querySelectorAll("main .loading").length === 0, null, { timeout: 60_000 });
console.log(`  Delivery page: tiles, weekly trend and repositories shown after ${Date.now() - deliveryStarted} ms`);

// Scroll 10,000 work items: load them (keyset pages of 500 as the table scrolls), then
// scroll top to bottom in steps, recording frame times.
await page.goto(`${base}/work-items`);
await page.waitForSelector("tbody tr");
const loadStarted = Date.now();
await page.waitForFunction(
  () => {
    const rows = document.querySelector(".rows");
    rows.scrollTo(0, rows.scrollHeight);
    const shown = Number(document.querySelector("[role=status]")?.textContent?.match(/\d+/)?.[0] ?? 0);
    return shown >= 10000;
  },
  null,
  { timeout: 120_000, polling: 200 },
);
const loadMs = Date.now() - loadStarted;
const frames = await page.evaluate(async () => {
  const rows = document.querySelector(".rows");
  rows.scrollTo(0, 0);
  const times = [];
  let last = performance.now();
  const end = rows.scrollHeight - rows.clientHeight;
  for (let y = 0; y <= end; y += 600) {
    rows.scrollTo(0, y);
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    times.push(now - last);
    last = now;
  }
  return times;
});
frames.sort((a, b) => a - b);
const p = (q) => frames[Math.min(frames.length - 1, Math.floor(frames.length * q))].toFixed(1);
const long = frames.filter((t) => t > 50).length;
console.log(
  `  10,000 work items: loaded while scrolling in ${(loadMs / 1000).toFixed(1)} s; ${frames.length} scroll frames p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, over 50 ms: ${long}`,
);
await browser.close();
