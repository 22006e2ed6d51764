// The app in a real browser (Debian's Chromium through playwright-core): signs in, opens
// every page at desktop and phone width, and fails on a script error, a page that does
// not render, or a serious accessibility violation (axe-core). Run by the Rust test
// `api_ui::the_app_works_in_a_real_browser` against a server holding a synced tenant:
//   PULSE_UI_BASE=http://127.0.0.1:PORT PULSE_UI_EMAIL=... PULSE_UI_PASSWORD=... node e2e/smoke.mjs
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const base = process.env.PULSE_UI_BASE;
const browserPath = process.env.PULSE_CHROMIUM ?? "/usr/bin/chromium";
const axe = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const PAGES = [
  ["/", ".card"],
  ["/work-items?project=CORE", "tbody tr"],
  ["/prs", "tbody tr"],
  ["/metrics?group_by=week", "figure"],
  ["/workflow", "tbody tr"],
  ["/custom-fields", "tbody tr"],
  ["/integrations", "tbody tr"],
  ["/queues", ".metrics"],
  ["/users", "tbody tr"],
];

const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
const failures = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (error) => failures.push(`script error: ${error}`));
  await page.goto(`${base}/login`);
  await page.getByLabel("E-mail").fill(process.env.PULSE_UI_EMAIL);
  await page.getByLabel("Password").fill(process.env.PULSE_UI_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector(".card");
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    for (const [path, ready] of PAGES) {
      await page.goto(base + path);
      try {
        await page.waitForSelector(ready, { timeout: 10_000 });
      } catch {
        failures.push(`${path} at ${width}px never showed ${ready}`);
        continue;
      }
      await page.addScriptTag({ content: axe });
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
      for (const violation of result.violations) {
        if (violation.impact === "serious" || violation.impact === "critical") {
          failures.push(`${path} at ${width}px: ${violation.id} (${violation.impact}) on ${violation.nodes.length} element(s)`);
        }
      }
    }
  }
  // A work item's page opens from the list, and its URL can be shared.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${base}/work-items`);
  await page.locator("tbody tr a").first().click();
  await page.waitForSelector("h2:has-text('Workflow metrics')");
  const shared = page.url();
  await page.goto(shared);
  await page.waitForSelector("h2:has-text('Workflow metrics')");
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("the app works in Chromium: every page, desktop and phone width, no serious axe violation");
