// The app in a real browser (Debian's Chromium through playwright-core), against a
// `pulse-etl` server holding a synced tenant with a scheduler running. It fails on a script
// error, a page that does not render, a serious accessibility violation (axe-core) or a
// flow that does not end as it should:
//   sign in; every page at 1280×800 (screenshot written) and at phone width; a job run from
//   its card streams to FINISHED without a reload; a new integration with a wrong token
//   tests as refused, in words, and works once edited with the right one; an Azure DevOps
//   form asks no account but projects and repositories, and a wrong token is refused as a
//   sign-in page; work items filtered and one opened; a status remapped,
//   applied, and a metric changed; a team made of people groups the flow metrics, and a
//   person is split (or a suggested pair merged); a search by words only and a status
//   category shows why each result matched; a viewer sees no admin action and "Not allowed".
// Run by the Rust test `api_ui::the_app_works_in_a_real_browser`, with
//   PULSE_UI_BASE, PULSE_UI_ADMIN, PULSE_UI_VIEWER, PULSE_UI_PASSWORD, PULSE_UI_SOURCE
//   (the simulator), PULSE_UI_SCREENSHOTS (a folder) and optionally PULSE_CHROMIUM.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("PULSE_UI_BASE");
const shots = env("PULSE_UI_SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const axe = readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const PAGES = [
  ["/", ".card", "dashboard"],
  ["/work-items?project=CORE", "tbody tr", "work-items"],
  ["/work-items/CORE-20", "h2", "work-item"],
  ["/prs", "tbody tr", "pull-requests"],
  ["/flow?group_by=week", "figure", "metrics"],
  ["/delivery?key=changes", ".tile", "delivery"],
  ["/data-quality", "tbody tr", "data-quality"],
  ["/workflow", "tbody tr", "workflow"],
  ["/custom-fields", "tbody tr", "custom-fields"],
  ["/integrations", "tbody tr", "integrations"],
  ["/queues", ".metrics", "queues"],
  ["/search", "h2", "search"],
  ["/teams", "form[aria-label='New team']", "teams"],
  ["/people", "tbody tr", "people"],
  ["/users", "tbody tr", "users"],
];
const failures = [];
const step = (text) => console.log(`- ${text}`);

// Script errors and anything the server's Content-Security-Policy refused fail the run.
function watch(page) {
  page.on("pageerror", (error) => failures.push(`script error: ${error}`));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text()))
      failures.push(`CSP violation on ${page.url()}: ${message.text()}`);
  });
  return page;
}

async function signIn(browser, email) {
  const page = watch(await browser.newPage({ viewport: { width: 1280, height: 800 } }));
  await page.goto(`${base}/login`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(env("PULSE_UI_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector(".card");
  return page;
}

async function audit(page, where) {
  // Evaluated over the DevTools protocol: an injected inline script would be (rightly)
  // refused by the page's Content-Security-Policy.
  await page.evaluate(axe);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  for (const violation of result.violations) {
    if (violation.impact === "serious" || violation.impact === "critical") {
      failures.push(`${where}: ${violation.id} (${violation.impact}) on ${violation.nodes.length} element(s)`);
    }
  }
}

const browser = await chromium.launch({
  executablePath: process.env.PULSE_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await signIn(browser, env("PULSE_UI_ADMIN"));
  step("every page, desktop and phone width");
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    for (const [path, ready, name] of PAGES) {
      await page.goto(base + path);
      try {
        await page.waitForSelector(ready, { timeout: 10_000 });
      } catch {
        failures.push(`${path} at ${width}px never showed ${ready}`);
        continue;
      }
      if (width === 1280) {
        await page.screenshot({ path: `${shots}/${name}.png` });
        // At desktop width nothing sticks out of a card (the job table's last column was
        // clipped once).
        const overflowing = await page.evaluate(
          () =>
            [...document.querySelectorAll(".card")].filter((card) =>
              [...card.querySelectorAll("table")].some(
                (table) => table.getBoundingClientRect().right > card.getBoundingClientRect().right + 1,
              ),
            ).length,
        );
        if (overflowing > 0) failures.push(`${path} at ${width}px: a table sticks out of ${overflowing} card(s)`);
      }
      await audit(page, `${path} at ${width}px`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });

  step("the API docs page renders under the same Content-Security-Policy");
  await page.goto(`${base}/api/docs/`);
  await page.waitForSelector(".swagger-ui .opblock", { timeout: 15_000 });

  step("a job run from its card streams to FINISHED without a reload");
  await page.goto(`${base}/`);
  const card = page.locator("section.card", { hasText: "GitHub" });
  await card.waitFor();
  await card.evaluate((element) => {
    window.seenStates = [];
    new MutationObserver(() => {
      const badge = element.querySelector(".badge")?.textContent;
      if (badge && window.seenStates.at(-1) !== badge) window.seenStates.push(badge);
    }).observe(element, { subtree: true, childList: true, characterData: true });
  });
  await card.getByRole("button", { name: "Run now" }).click();
  await page.waitForFunction(
    () => window.seenStates.includes("RUNNING") && window.seenStates.at(-1) === "FINISHED",
    null,
    { timeout: 60_000 },
  );
  const finishedSteps = await card.locator("td .state.finished").count();
  if (finishedSteps < 6) failures.push(`the finished card shows ${finishedSteps} finished stages`);

  step("an integration with a wrong token tests as refused");
  await page.goto(`${base}/integrations`);
  await page.locator("tbody tr").first().waitFor();
  const rowsBefore = await page.locator("tbody tr").count();
  await page.getByLabel("Source").selectOption("github");
  await page.getByLabel("Base URL").fill(env("PULSE_UI_SOURCE"));
  await page.getByLabel("API token").fill("wrong-token");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("status").filter({ hasText: "Integration created" }).waitFor();
  // The list reloads after the message: act on the new row only once it is there.
  await page.waitForFunction((count) => document.querySelectorAll("tbody tr").length > count, rowsBefore);
  await page.locator("tbody tr").last().getByRole("button", { name: "Test connection" }).click();
  const verdict = page.getByRole("status").filter({ hasText: "401" });
  await verdict.waitFor({ timeout: 30_000 });
  step("the integration edited with the right token tests as working");
  await page.locator("tbody tr").last().getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("New API token (empty: keep)").fill("sim-gh-token");
  await page.getByLabel("Incident window (hours after a deployment)").fill("48");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").filter({ hasText: "saved" }).waitFor();
  await page.locator("tbody tr").last().getByRole("button", { name: "Test connection" }).click();
  await page.getByRole("status").filter({ hasText: "connection works" }).waitFor({ timeout: 30_000 });
  step("the delivery rules saved with it are shown again");
  await page.locator("tbody tr").last().getByRole("button", { name: "Edit" }).click();
  const kept = await page.getByLabel("Incident window (hours after a deployment)").inputValue();
  if (kept !== "48") failures.push(`the incident window saved as 48 reads ${kept}`);
  if ((await page.getByLabel("Production deployments are").inputValue()) !== "environment")
    failures.push("the production rule is not the default");
  await page.getByRole("button", { name: "Cancel" }).click();

  step("an Azure DevOps integration's form asks for no account, and a token it does not know is refused in words");
  const rowsBeforeAzure = await page.locator("tbody tr").count();
  await page.getByLabel("Source").selectOption("azure_devops");
  if ((await page.getByLabel("Account e-mail").count()) > 0)
    failures.push("the Azure DevOps form asks for an account e-mail");
  await page.getByLabel("Base URL").fill(`${env("PULSE_UI_SOURCE")}/sim-org`);
  await page.getByLabel("API token").fill("wrong-token");
  // Azure DevOps is narrowed by projects and by repositories: the form asks for both.
  await page.getByLabel(/^Projects/).fill("Tailspin");
  await page.getByLabel(/^Repositories project\/name/).fill("Tailspin/repo-1");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForFunction((count) => document.querySelectorAll("tbody tr").length > count, rowsBeforeAzure);
  const azureRow = page.locator("tbody tr").last();
  await azureRow.getByText("Azure DevOps").waitFor();
  await azureRow.getByRole("button", { name: "Test connection" }).click();
  await page.getByRole("status").filter({ hasText: "sign-in page" }).waitFor({ timeout: 30_000 });

  step("webhooks installed from the integration page");
  const first = page.locator("tbody tr").first();
  await first.getByText("Set up").click();
  await first.getByRole("button", { name: "Install webhooks" }).click();
  await page.getByRole("status").filter({ hasText: "webhooks installed" }).waitFor({ timeout: 30_000 });
  await first.getByText("installed, no recent delivery").waitFor();

  step("work items filtered, one opened with its timeline");
  await page.goto(`${base}/work-items`);
  await page.getByLabel("Project key").fill("CORE");
  await page.getByLabel("Status").fill("Done");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/project=CORE&status=Done/);
  await page.locator("tbody tr a").first().click();
  await page.getByRole("heading", { name: "Status timeline" }).waitFor();

  step("a link a source sent as script is shown as text, never followed");
  await page.goto(`${base}/work-items/CORE-20`);
  const hostile = page.locator("a", { hasText: "evil/repo#1" });
  await hostile.waitFor();
  if ((await hostile.getAttribute("href")) !== null)
    failures.push(`a javascript: link kept its href: ${await hostile.getAttribute("href")}`);

  step("a status remapped and applied changes a metric");
  const completions = async () => {
    await page.goto(`${base}/work-items/CORE-20`);
    await page.getByRole("heading", { name: "Workflow metrics" }).waitFor();
    return page.locator(".metrics div", { hasText: "Completions" }).locator("dd").textContent();
  };
  const before = await completions();
  await page.goto(`${base}/workflow`);
  const select = page.getByLabel("Workflow step of Code Review").first();
  await select.waitFor();
  const done = await select.locator("option", { hasText: "Done (done)" }).first().getAttribute("value");
  await select.selectOption(done);
  await page.getByRole("status").filter({ hasText: "mapped" }).waitFor();
  await page.getByRole("button", { name: "Apply (reprocess)" }).click();
  await page.getByRole("status").filter({ hasText: "Reprocessed" }).waitFor({ timeout: 60_000 });
  const after = await completions();
  if (!(before === "0" && after === "1"))
    failures.push(`CORE-20 completions went from ${before} to ${after}, not 0 to 1`);

  step("a team of people groups the flow metrics; a person split or a suggested pair merged");
  await page.goto(`${base}/teams`);
  const newTeam = page.getByRole("form", { name: "New team" });
  await newTeam.getByLabel("Name").fill("Checkout");
  for (const box of await newTeam.getByRole("checkbox").all()) await box.check();
  await newTeam.getByRole("button", { name: "Create team" }).click();
  await page.getByRole("status").filter({ hasText: "Team Checkout created." }).waitFor();
  await page.getByRole("rowheader", { name: "Checkout" }).waitFor();
  await page.goto(`${base}/flow?group_by=team&pr_group_by=team`);
  await page.getByRole("rowheader", { name: "Checkout" }).first().waitFor();
  await page.goto(`${base}/people`);
  await page.locator("tbody tr").first().waitFor();
  const splits = page.getByRole("button", { name: /^Split / });
  const merges = page.getByRole("button", { name: /^Merge / });
  if ((await splits.count()) > 0) {
    await splits.first().click();
    await page.getByRole("status").filter({ hasText: "Split:" }).waitFor();
  } else if ((await merges.count()) > 0) {
    await merges.first().click();
    await page.getByRole("status").filter({ hasText: "Merged:" }).waitFor();
  } else failures.push("the people page offers neither a split nor a merge");

  step("a search by words only says why each result matched; a status category narrows it");
  await page.goto(`${base}/search`);
  await page.getByRole("searchbox", { name: "Words" }).fill("CORE-20 fix");
  await page.getByLabel("Match by").selectOption("lexical");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForSelector("caption");
  const address = new URL(page.url());
  if (address.searchParams.get("mode") !== "lexical") failures.push(`search address ${page.url()} lost the mode`);
  const results = page.locator("table").filter({ has: page.locator("caption", { hasText: "Best matches" }) });
  const top = results.locator("tbody tr").first();
  if ((await top.locator("td").nth(2).textContent()) !== "CORE-20")
    failures.push("a key typed in the search is not the first result");
  if ((await top.locator("td").nth(1).textContent()) !== "its key")
    failures.push("the first result does not say it matched by its key");
  const matchedBy = await results.locator("tbody tr td:nth-child(2)").allTextContents();
  if (!matchedBy.slice(1).every((why) => why === "words")) failures.push(`words-only results matched by ${matchedBy}`);
  await page.getByLabel("Status category").selectOption("new");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/status_category=new/);
  await page.locator("caption, p:has-text('Nothing here yet.'), p[role=alert]").first().waitFor();
  if ((await page.getByRole("alert").count()) > 0)
    failures.push(`a filtered search failed: ${await page.getByRole("alert").first().textContent()}`);

  step("a shared link survives the sign-in it asks for");
  const fresh = watch(await (await browser.newContext()).newPage());
  await fresh.goto(`${base}/work-items?project=CORE`);
  await fresh.getByLabel("E-mail").fill(env("PULSE_UI_VIEWER"));
  await fresh.getByLabel("Password").fill(env("PULSE_UI_PASSWORD"));
  await fresh.getByRole("button", { name: "Sign in" }).click();
  await fresh.waitForSelector("tbody tr");
  if (!fresh.url().endsWith("/work-items?project=CORE")) failures.push(`signed in to ${fresh.url()}`);

  step("a viewer sees no admin action");
  const viewer = await signIn(browser, env("PULSE_UI_VIEWER"));
  if ((await viewer.getByRole("button", { name: "Run now" }).count()) > 0) failures.push("a viewer sees Run now");
  if ((await viewer.getByRole("link", { name: "Users" }).count()) > 0) failures.push("a viewer sees the Users page");
  if ((await viewer.getByRole("link", { name: "People" }).count()) > 0) failures.push("a viewer sees the People page");
  await viewer.goto(`${base}/teams`);
  await viewer.getByRole("rowheader", { name: "Checkout" }).waitFor();
  if ((await viewer.getByRole("button", { name: /Edit team/ }).count()) > 0) failures.push("a viewer can edit a team");
  await viewer.goto(`${base}/users`);
  await viewer.getByRole("alert").filter({ hasText: "Not allowed" }).waitFor();
  await viewer.goto(`${base}/integrations`);
  await viewer.locator("tbody tr").first().waitFor();
  if ((await viewer.getByRole("button", { name: "Test connection" }).count()) > 0)
    failures.push("a viewer sees Test connection");
  if ((await viewer.getByRole("button", { name: "Install webhooks" }).count()) > 0)
    failures.push("a viewer sees Install webhooks");
  await viewer.locator("tbody tr").first().getByText("installed, no recent delivery").waitFor();
} catch (error) {
  failures.push(`stopped: ${error.message ?? error}`);
} finally {
  await browser.close();
}
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(`the app works in Chromium; screenshots in ${shots}`);
