// The console's end-to-end journey in a real browser (playwright-core driving Debian's
// chromium, headless), against a running platform whose demo workspace has the scripted
// chat model of acceptance/console_e2e.py (the playground step expects its answer: the
// document's fact, cited as <ref>[1]</ref>, in pieces), and an MCP server at E2E_MCP_URL
// that the platform may reach (its tool `add`; the scripted model calls it as calc__add).
// That script starts the platform, the model server and the MCP server and runs this;
// `console_e2e.py --serve` keeps them up and prints:
//
//   E2E_BASE_URL=http://127.0.0.1:PORT E2E_EMAIL=... E2E_PASSWORD=... \
//   E2E_CHAT_MODEL=e2e-chat E2E_MCP_URL=http://127.0.0.1:PORT/mcp node e2e/journey.mjs
//
// Each step is bounded; a failure prints the step, the error and the page's address and
// saves failure.png next to the screenshots. The results (the API key shown once, the
// snippets, the app's id) go to E2E_RESULT as JSON for the caller to use.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const env = process.env;
const BASE = (env.E2E_BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const EMAIL = env.E2E_EMAIL ?? "admin@example.com";
const PASSWORD = env.E2E_PASSWORD ?? "";
const CHAT_MODEL = env.E2E_CHAT_MODEL ?? "";
const FACT = env.E2E_FACT ?? "480 yuan";
const MCP_URL = env.E2E_MCP_URL ?? "";
const MCP_QUESTION = env.E2E_MCP_QUESTION ?? "What is 19 + 23?";
const MCP_ANSWER = env.E2E_MCP_ANSWER ?? "19 + 23 = 42.";
const SHOTS = resolve(env.E2E_SCREENSHOTS ?? fileURLToPath(new URL("../../var/e2e-screenshots", import.meta.url)));
const RESULT = env.E2E_RESULT ? resolve(env.E2E_RESULT) : null;
const STEP_TIMEOUT = Number(env.E2E_STEP_TIMEOUT ?? 20_000);
const READY_TIMEOUT = Number(env.E2E_READY_TIMEOUT ?? 120_000);
const JOURNEY_TIMEOUT = Number(env.E2E_JOURNEY_TIMEOUT ?? 280_000);
// DESIGN.md's flags, and /dev/shm left alone (containers give it 64 MB, too little for Chromium).
const CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

const stamp = Date.now().toString(36);
const KB_NAME = `Travel policy ${stamp}`;
const DOC_NAME = `travel-policy-${stamp}.md`;
const APP_NAME = `Travel assistant ${stamp}`;
const FLOW_NAME = `Refund router ${stamp}`;
const FLOW_QUESTION = "How do I get a refund?";
const REFUND_ANSWER = "Refunds are paid back within five days.";
const OTHER_ANSWER = "Ask me about refunds.";
const KEY_NAME = `e2e-${stamp}`;
const MCP_SERVER = "calc";
const MCP_TOOL = "add";
const MCP_FUNCTION = `${MCP_SERVER}__${MCP_TOOL}`;
const MCP_APP_NAME = `Calculator ${stamp}`;
const BATCH_FILE = `batch-${stamp}.jsonl`;
const BATCH_PROMPTS = ["Hello?", "How are you?", "Say something nice."];
const QUESTION = "How much may a hotel night cost in a tier-one city?";
const DOCUMENT = `# Travel policy of Lumen Robotics

## Hotels

A hotel night in a tier-one city (Beijing, Shanghai, Guangzhou, Shenzhen) is reimbursed up
to ${FACT}. Elsewhere the limit is 320 yuan a night. Book through the travel desk when you can.

## Meals

Meals on the road are covered up to 150 yuan a day, with receipts.

## Trains and flights

Take the train for trips under five hours; economy class for flights.
`;

const result = { question: QUESTION, document: DOC_NAME, knowledge_base: KB_NAME, snippets: {}, screenshots: [] };
let page;
let shotCount = 0;
const pageErrors = [];
const consoleErrors = [];

function log(message) {
  console.log(`journey: ${message}`);
}

// How to find things, whatever the machine's speed (issue #16):
// - antd keeps inactive tabs, closed drawers, modals and dropdowns mounted (hidden), and a
//   tab switch renders after the click returns: look inside the shown tab's panel (`tab()`
//   waits until it is the shown one), and prefer getByRole, which skips hidden elements;
//   getByText/getByTestId/locator do not, so those are scoped or filtered to visible ones.
// - Every wait waits for a condition, bounded (the locator's waitFor, or `until()` for a
//   value); never a fixed sleep.

/** Poll `probe()` until `accept(value)` holds (expect.poll's way): the value, or a bounded
 * failure that says what was last seen. */
async function until(what, probe, accept, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  const pauses = [100, 250, 500, 1000];
  for (let attempt = 0; ; attempt++) {
    let value;
    try {
      value = await probe();
    } catch (error) {
      value = error;
    }
    if (!(value instanceof Error) && accept(value)) return value;
    if (Date.now() >= deadline) {
      const seen = value instanceof Error ? value.message.split("\n")[0] : JSON.stringify(value)?.slice(0, 400);
      throw new Error(`${what}: not so within ${timeout / 1000}s (last seen: ${seen})`);
    }
    await new Promise((done) => setTimeout(done, pauses[Math.min(attempt, pauses.length - 1)]));
  }
}

/** An input's value, once `accept(value)` holds (a controlled input may fill in later). */
async function valueOf(input, what, accept) {
  return until(what, () => input.inputValue({ timeout: 2_000 }), accept);
}

async function shot(name) {
  const file = `${String(++shotCount).padStart(2, "0")}-${name}.png`;
  // The step has already waited for what it checks; for the picture, also let loading
  // placeholders go (not a check: a slow one is noted, and the picture taken anyway).
  // Transitions are finished (and spinners frozen) by the screenshot itself.
  await page
    .locator(".ant-skeleton-active, .ant-spin-spinning")
    .filter({ visible: true })
    .first()
    .waitFor({ state: "hidden", timeout: 5_000 })
    .catch(() => log(`(screenshot ${file}: the page was still loading something)`));
  await page.screenshot({ path: join(SHOTS, file), fullPage: true, animations: "disabled" });
  result.screenshots.push(file);
}

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    error.step = name;
    throw error;
  }
  log(`${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

/** The left menu (not a dropdown's menu that may be open in the header). */
function sideMenu() {
  return page.locator("aside").getByRole("menu");
}

/** Follow a link of the left menu, by its text, and wait for the page's title. */
async function openFromMenu(label) {
  await sideMenu().getByRole("link", { name: label, exact: true }).click();
  await page.getByRole("heading", { name: label, exact: true, level: 4 }).waitFor();
}

/** Show the tab `name` (inside `scope`: the page, a dialog, an outer tab's panel) and
 * return its panel once it is the one shown. Without a click: the panel of the tab
 * already shown. A tab switch renders after the click returns, and the other tabs'
 * panels stay mounted, hidden: look for things in the returned panel only. */
async function tab(scope, name, { click = true } = {}) {
  if (click) await scope.getByRole("tab", { name, exact: true }).click();
  await scope.getByRole("tab", { name, exact: true, selected: true }).waitFor();
  const panel = scope.getByRole("tabpanel", { name, exact: true });
  await panel.waitFor();
  return panel;
}

/** Pick `option` in the antd Select whose combobox (its input) is `combobox`: in the
 * dropdown that this select opened (others stay mounted, hidden or closing), then wait
 * until the select shows it. A multiple select's dropdown stays open: `close` shuts it.
 * `group`: type the label of an option group into the select's search (its options are
 * the ones left; the list is virtual, so an option far down is not even rendered before)
 * and pick `option` under that group's header. */
async function pick(combobox, option, { close = false, group = null } = {}) {
  await combobox.click();
  await until(`the select for ${JSON.stringify(option)} opens`, () => combobox.getAttribute("aria-expanded"), (v) => v === "true");
  const list = await combobox.getAttribute("aria-controls");
  if (!list) throw new Error(`the select for ${JSON.stringify(option)} names no list (aria-controls)`);
  const dropdown = page.locator(".ant-select-dropdown").filter({ has: page.locator(`[id="${list}"]`) });
  if (group) {
    await combobox.fill(group);
    // Filtered: the group's header, and no other group's.
    await dropdown.locator(".ant-select-item-group").filter({ hasText: group }).waitFor();
    await until(`the select's list shows only the group ${JSON.stringify(group)}`, () => dropdown.locator(".ant-select-item-group").allInnerTexts(), (groups) => groups.length === 1 && groups[0] === group);
  }
  await dropdown.locator(".ant-select-item-option").filter({ hasText: option }).first().click();
  const select = combobox.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' ant-select ')][1]");
  await select.getByText(option).filter({ visible: true }).first().waitFor();
  if (close) {
    await page.keyboard.press("Escape");
    await until(`the select for ${JSON.stringify(option)} closes`, () => combobox.getAttribute("aria-expanded"), (v) => v !== "true");
  }
}

/** A dialog (an antd modal or drawer), once it has finished opening: it grows or slides in
 * from where it starts (a modal from the mouse's last click), holding still for a frame or
 * two first, and a click measured then lands where the button no longer is: it is lost
 * (publishing once waited 20 s for a request that was never sent). Waits until neither it
 * nor a box around it is in an opening transition (rc-motion's `*-appear`/`*-enter`
 * classes) or runs a finite animation; returns the dialog. */
async function opened(dialog) {
  await dialog.waitFor();
  await until(
    "the dialog has finished opening",
    () =>
      dialog.evaluate((element) => {
        const moving = [];
        for (let node = element; node && node !== document.body; node = node.parentElement) {
          const motion = [...node.classList].filter((name) => /-(appear|enter)(-|$)/.test(name));
          if (motion.length) moving.push(motion.join(" "));
        }
        for (const animation of document.getAnimations()) {
          const target = animation.effect?.target;
          const finite = animation.effect?.getComputedTiming().endTime !== Infinity;
          if (finite && animation.playState === "running" && target && (target.contains(element) || element.contains(target))) {
            moving.push(animation.animationName ?? animation.transitionProperty ?? "an animation");
          }
        }
        return moving;
      }),
    (moving) => moving.length === 0,
  );
  return dialog;
}

async function signIn() {
  await page.goto(`${BASE}/sign-in`);
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await shot("sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/models$/);
  // The demo workspace is the current one: the switcher shows it.
  const switcher = page.getByRole("combobox", { name: "Switch workspace" });
  await switcher.waitFor();
  const select = switcher.locator("xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' ant-select ')][1]");
  await select.getByText(/demo/i).filter({ visible: true }).first().waitFor();
}

async function models() {
  await page.getByRole("heading", { name: "Models", level: 4 }).waitFor();
  await page.getByRole("cell", { name: CHAT_MODEL }).first().waitFor();
  await page.getByRole("cell", { name: "use-m3" }).first().waitFor();
  // The model playground: a plain chat with the scripted model, streamed.
  await page.getByPlaceholder("Type a message; Enter sends, Shift+Enter adds a line").fill("Hello?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByTestId("turn-assistant").filter({ hasText: env.E2E_PLAIN_ANSWER ?? "Hello from the e2e model." }).waitFor();
  await shot("models");
}

async function createKnowledgeBase() {
  await openFromMenu("Knowledge bases");
  await page.getByRole("button", { name: "Create knowledge base" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Create a knowledge base" }));
  await dialog.getByLabel("Name", { exact: true }).fill(KB_NAME);
  await dialog.getByLabel("Description").fill("Hotels, meals and trains: what Lumen Robotics reimburses.");
  await pick(dialog.getByRole("combobox", { name: "Embedding model", exact: true }), "use-m3");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await page.waitForURL(/\/knowledge-bases\/[0-9a-f-]{36}$/);
  result.knowledge_base_id = page.url().split("/").pop();
  await page.getByRole("heading", { name: KB_NAME }).waitFor();
}

async function uploadDocument() {
  const documents = await tab(page, "Documents", { click: false });
  // A parser for this upload (the knowledge base's is Automatic); the document's row says it.
  await pick(documents.getByRole("combobox", { name: "Parser for these files" }), "Text layer only");
  await documents.locator('input[type="file"]').setInputFiles({ name: DOC_NAME, mimeType: "text/markdown", buffer: Buffer.from(DOCUMENT) });
  const row = documents.getByRole("row").filter({ hasText: DOC_NAME });
  await row.waitFor();
  await row.getByTestId("doc-parser").filter({ hasText: /^Text layer$/ }).waitFor();
  await row.getByTestId("doc-status").filter({ hasText: /^Ready$/ }).waitFor({ timeout: READY_TIMEOUT });
  await shot("knowledge-base-documents");
}

async function hitTest() {
  const panel = await tab(page, "Hit test");
  await panel.getByLabel("Query", { exact: true }).fill("hotel night limit tier-one city");
  await panel.getByRole("button", { name: "Run hit test" }).click();
  const first = panel.getByTestId("hit").first();
  await first.waitFor({ timeout: 60_000 }); // the first query loads the embedding model
  await first.getByText(DOC_NAME).waitFor();
  await first.getByText(FACT).waitFor();
  await shot("knowledge-base-hit-test");
  await openFromMenu("Knowledge bases");
  await page.getByRole("row").filter({ hasText: KB_NAME }).waitFor();
  await shot("knowledge-bases");
}

/** Open a tab of the app page (its label), wait for the address to say so, and return
 * the tab's panel. */
async function appTab(name, key) {
  const panel = await tab(page, name);
  await page.waitForURL(new RegExp(`[?&]tab=${key}`));
  return panel;
}

async function createApp() {
  await openFromMenu("Apps");
  await page.getByRole("button", { name: "Create app" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Create an app" }));
  await dialog.getByLabel("Name", { exact: true }).fill(APP_NAME);
  await dialog.getByLabel("Description").fill("Answers questions on the travel policy, with sources.");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await page.waitForURL(/\/apps\/[0-9a-f-]{36}/);
  result.app_id = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("heading", { name: APP_NAME }).waitFor();
}

async function configureApp() {
  const panel = await tab(page, "Configure", { click: false });
  await pick(panel.getByTestId("app-model").getByRole("combobox"), CHAT_MODEL);
  await panel.getByTestId("app-prompt").fill("You answer Lumen Robotics employees' questions on the travel policy, briefly.");
  await pick(panel.getByTestId("app-kbs").getByRole("combobox"), KB_NAME, { close: true });
  const saved = page.waitForResponse((r) => r.url().endsWith(`/apps/${result.app_id}/draft`) && r.request().method() === "PUT");
  await panel.getByTestId("save-draft").click();
  const response = await saved;
  if (response.status() !== 200) throw new Error(`saving the draft answered ${response.status()}: ${await response.text()}`);
  await panel.getByTestId("app-kbs").getByText(KB_NAME).filter({ visible: true }).first().waitFor();
  await shot("app-configure");
}

async function playground() {
  const panel = await appTab("Playground", "playground");
  const input = panel.getByTestId("app-input");
  await input.fill(QUESTION);
  // Record every text the answer bubble shows, to see that it streams in pieces.
  await page.evaluate(() => {
    const seen = (window.__answerTexts = []);
    new MutationObserver(() => {
      const bubbles = document.querySelectorAll('[data-testid="app-turn-assistant"]');
      const text = bubbles[bubbles.length - 1]?.textContent ?? "";
      if (text && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await panel.getByTestId("app-send").click();
  const answer = panel.getByTestId("app-turn-assistant").last();
  const badge = answer.getByTestId("cite-badge").first();
  await badge.waitFor({ timeout: 60_000 });
  await answer.getByText(`${FACT} a night`).waitFor();
  // Streamed: before the whole answer, the bubble showed a piece of it, the start of the
  // answer without the fact (the model sends it in four pieces, 0.3 s apart; a busy machine
  // may show two pieces at once, so one such glimpse is what is required).
  const whole = await answer.textContent();
  const texts = await page.evaluate(() => window.__answerTexts);
  const partial = texts.filter((t) => t !== "…" && !t.includes(`${FACT} a night`));
  if (partial.length < 1 || !partial.every((t) => whole.startsWith(t))) {
    throw new Error(`the answer did not stream in pieces: it showed ${JSON.stringify(texts)}`);
  }
  if (/<ref>/.test(await answer.innerText())) throw new Error("the answer shows a raw <ref> marker");
  await badge.click();
  const references = panel.getByTestId("references").last();
  await references.waitFor();
  await references.getByText(DOC_NAME).first().waitFor();
  await references.locator(".reference.highlight").filter({ hasText: DOC_NAME }).waitFor();
  await shot("app-playground-citation");
}

/** Publish the app `appId` with `notes`; its Versions tab lists v1 with them. */
async function publishApp(appId, notes) {
  await page.getByTestId("publish").click();
  const dialog = await opened(page.getByRole("dialog", { name: "Publish the draft" }));
  await dialog.getByTestId("publish-notes").fill(notes);
  const published = page.waitForResponse((r) => r.url().endsWith(`/apps/${appId}/publish`) && r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Publish", exact: true }).click();
  const response = await published;
  if (response.status() !== 201) throw new Error(`publishing answered ${response.status()}: ${await response.text()}`);
  await dialog.waitFor({ state: "hidden" });
  const versions = await appTab("Versions", "versions");
  await versions.getByRole("row").filter({ hasText: notes.slice(0, 20) }).filter({ hasText: "v1" }).waitFor();
}

async function publish() {
  await publishApp(result.app_id, "First release: answers from the travel policy, with sources.");
  await shot("app-versions");
}

async function appApi() {
  const panel = await appTab("API", "api");
  await valueOf(panel.getByTestId("app-id"), "the API tab's app id", (id) => id === result.app_id);
  const snippets = await tab(panel, "Python · DashScope");
  const snippet = snippets.getByTestId("snippet-dashscope");
  await snippet.filter({ hasText: result.app_id }).waitFor(); // else: the DashScope snippet does not name the app
  result.snippets.app_dashscope = await snippet.innerText();
  await shot("app-api");
  const runs = await appTab("Runs", "runs");
  await runs.getByRole("row").filter({ hasText: QUESTION }).first().waitFor(); // the playground's run
  await shot("app-runs");
  await openFromMenu("Apps");
  await page.getByRole("row").filter({ hasText: APP_NAME }).filter({ hasText: "v1" }).waitFor();
  await shot("apps");
}

/** A workflow app, blank: the canvas shows the start joined to the end. */
async function createWorkflow() {
  await openFromMenu("Apps");
  await page.getByRole("button", { name: "Create app" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Create an app" }));
  // The kind (a radio button); a click while the dialog still opens may miss: click until chosen.
  const workflowKind = dialog.getByRole("radio", { name: "Workflow", exact: true });
  await until(
    "the Workflow kind is chosen",
    async () => {
      if (!(await workflowKind.isChecked())) await dialog.getByText("Workflow", { exact: true }).click();
      return workflowKind.isChecked();
    },
    (checked) => checked,
  );
  await dialog.getByLabel("Name", { exact: true }).fill(FLOW_NAME);
  await dialog.getByLabel("Description").fill("Answers refund questions one way, the rest another.");
  // The gallery: blank and the templates the platform ships.
  await dialog.getByTestId("template-intent_rag").waitFor();
  await dialog.getByTestId("template-blank").click();
  await shot("workflow-create");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await page.waitForURL(/\/apps\/[0-9a-f-]{36}/);
  result.workflow_id = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("heading", { name: FLOW_NAME }).waitFor();
  const panel = await tab(page, "Canvas", { click: false });
  await panel.getByTestId("wf-node-start").waitFor();
  await panel.getByTestId("wf-node-end").waitFor();
  await until("the blank workflow's one edge", () => panel.locator(".react-flow__edge").count(), (n) => n === 1);
}

/** Drag from one handle to another (a connection), and wait for the edge it makes. */
async function connect(panel, source, handle, target) {
  const from = await panel.getByTestId(`handle-${source}-${handle}`).boundingBox();
  const to = await panel.getByTestId(`handle-${target}-in`).boundingBox();
  if (!from || !to) throw new Error(`the handles ${source}.${handle} → ${target} are not on the canvas`);
  const a = { x: from.x + from.width / 2, y: from.y + from.height / 2 };
  const b = { x: to.x + to.width / 2, y: to.y + to.height / 2 };
  // Both handles must be what the mouse meets there (not under the minimap or another node).
  for (const [point, id] of [[a, `handle-${source}-${handle}`], [b, `handle-${target}-in`]]) {
    const top = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest("[data-testid]")?.getAttribute("data-testid") ?? null, point);
    if (top !== id) throw new Error(`the handle ${id} is covered by ${top} at (${point.x}, ${point.y})`);
  }
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 4 });
  await page.mouse.move(b.x, b.y, { steps: 4 });
  await page.mouse.up();
  await panel.getByTestId(`rf__edge-e_${source}_${handle}_${target}`).waitFor({ state: "attached" });
}

/** Wait until the canvas stops moving (auto-layout fits the view, animated). */
async function canvasSettled(panel) {
  const viewport = panel.locator(".react-flow__viewport");
  const read = () => viewport.evaluate((el) => el.style.transform);
  await until(
    "the canvas stops moving",
    async () => {
      const before = await read();
      await new Promise((done) => setTimeout(done, 150));
      return before === (await read());
    },
    (still) => still,
  );
}

/** Select a node on the canvas: its panel opens. */
async function selectNode(panel, id) {
  await panel.getByTestId(`wf-node-${id}`).click();
  const side = panel.getByTestId("node-panel").filter({ hasText: id });
  await side.waitFor();
  return side;
}

/** On the canvas: a condition on the prompt and an answer for each branch between start and
 * end (from the palette, handles connected by dragging), the check finds nothing; save. */
async function drawWorkflow() {
  const panel = await tab(page, "Canvas", { click: false });
  // The start → end edge goes: select it, delete it.
  await panel.locator(".react-flow__edge").first().click({ force: true });
  await panel.locator(".react-flow__edge.selected").waitFor({ state: "attached" });
  await panel.getByTestId("delete-selected").click();
  await until("the edge is deleted", () => panel.locator(".react-flow__edge").count(), (n) => n === 0);
  for (const [type, id] of [["condition", "condition_1"], ["answer", "answer_1"], ["answer", "answer_2"]]) {
    await panel.getByTestId(`palette-${type}`).click();
    await panel.getByTestId(`wf-node-${id}`).waitFor();
  }
  // Spread them out before connecting.
  await panel.getByTestId("auto-layout").click();
  await canvasSettled(panel);
  await connect(panel, "start", "next", "condition_1");
  await connect(panel, "condition_1", "case_1", "answer_1");
  await connect(panel, "condition_1", "else", "answer_2");
  await connect(panel, "answer_1", "next", "end");
  await connect(panel, "answer_2", "next", "end");
  await panel.getByTestId("auto-layout").click();
  await canvasSettled(panel);
  // The condition: the prompt contains "refund".
  let side = await selectNode(panel, "condition_1");
  await pick(side.getByTestId("setting-operator").getByRole("combobox"), "contains");
  await side.getByTestId("setting-value").locator("input").fill("refund");
  side = await selectNode(panel, "answer_1");
  await side.getByTestId("setting-text").locator("textarea").fill(REFUND_ANSWER);
  side = await selectNode(panel, "answer_2");
  await side.getByTestId("setting-text").locator("textarea").fill(OTHER_ANSWER);
  // The check runs as the canvas changes: no problem is left.
  await panel.getByTestId("problems").getByText("No problems", { exact: true }).waitFor();
  await until("no node marked with problems", () => panel.locator('[data-problems]:not([data-problems="0"])').count(), (n) => n === 0);
  const saved = page.waitForResponse((r) => r.url().endsWith(`/apps/${result.workflow_id}/draft`) && r.request().method() === "PUT");
  await panel.getByTestId("save-workflow").click();
  const response = await saved;
  if (response.status() !== 200) throw new Error(`saving the workflow answered ${response.status()}: ${await response.text()}`);
  await panel.getByText("Unsaved changes").waitFor({ state: "hidden" });
  await shot("workflow-canvas");
}

/** The playground runs the saved draft: the nodes on the branch taken light up as they
 * succeed, the other answer does not run, and the answer is the refund one. */
async function workflowPlayground() {
  const panel = await appTab("Playground", "playground");
  const canvas = panel.getByTestId("run-canvas");
  await canvas.getByTestId("wf-node-condition_1").waitFor();
  await panel.getByTestId("app-input").fill(FLOW_QUESTION);
  await panel.getByTestId("app-send").click();
  for (const id of ["start", "condition_1", "answer_1", "end"]) {
    await canvas.locator(`[data-testid="wf-node-${id}"][data-status="succeeded"]`).waitFor({ timeout: 60_000 });
  }
  const skipped = await canvas.getByTestId("wf-node-answer_2").getAttribute("data-status");
  if (skipped) throw new Error(`the branch not taken ran: answer_2 is ${skipped}`);
  await panel.getByTestId("app-turn-assistant").last().getByText(REFUND_ANSWER, { exact: false }).waitFor();
  // A node's run: its inputs and outputs.
  await canvas.getByTestId("wf-node-answer_1").click();
  await panel.getByTestId("node-run-detail").getByText(REFUND_ANSWER, { exact: false }).first().waitFor();
  await shot("workflow-playground");
}

async function publishWorkflow() {
  await publishApp(result.workflow_id, "First workflow release: refunds routed.");
  await openFromMenu("Apps");
  await page.getByRole("row").filter({ hasText: FLOW_NAME }).filter({ hasText: "Workflow" }).filter({ hasText: "v1" }).waitFor();
  await shot("apps-with-workflow");
}

/** Batch inference: upload a JSONL file for the chat model, create a batch, wait until a
 * worker has answered every line, and download the output file. */
async function batch() {
  await openFromMenu("Batch inference");
  await page.getByRole("button", { name: "New batch" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "New batch" }));
  await dialog.getByTestId("batch-example").waitFor();
  const lines = BATCH_PROMPTS.map((content, i) =>
    JSON.stringify({ custom_id: `req-${i + 1}`, method: "POST", url: "/v1/chat/completions", body: { model: CHAT_MODEL, messages: [{ role: "user", content }] } }),
  );
  await dialog.locator('input[type="file"]').setInputFiles({ name: BATCH_FILE, mimeType: "application/jsonl", buffer: Buffer.from(lines.join("\n") + "\n") });
  await dialog.getByTestId("batch-file-summary").filter({ hasText: `${lines.length} requests` }).waitFor();
  await shot("batch-new");
  const created = page.waitForResponse((r) => r.url().endsWith("/console/api/batches") && r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  const response = await created;
  if (response.status() !== 201) throw new Error(`creating the batch answered ${response.status()}: ${await response.text()}`);
  result.batch_id = (await response.json()).id;
  await dialog.waitFor({ state: "hidden" });
  // The new batch's row opens by itself; the list polls until the batch is finished.
  const row = page.locator(`tr[data-row-key="${result.batch_id}"]`);
  await row.getByTestId("batch-status").filter({ hasText: /^(Completed|Failed|Expired|Cancelled)$/ }).waitFor({ timeout: READY_TIMEOUT });
  const status = await row.getByTestId("batch-status").innerText();
  // Its details (the expanded row; a collapsed one stays mounted, hidden).
  const details = page.getByTestId("batch-details").filter({ visible: true });
  if (status !== "Completed") {
    const errors = await details.innerText().catch(() => "");
    throw new Error(`the batch ended ${status}: ${errors.slice(0, 600)}`);
  }
  await row.getByText(`${lines.length} / ${lines.length}`).waitFor();
  const downloaded = page.waitForEvent("download");
  await details.getByTestId("download-output").click();
  const output = readFileSync(await (await downloaded).path(), "utf-8").trim().split("\n");
  const answered = output.filter((line) => line.includes(env.E2E_PLAIN_ANSWER ?? "Hello from the e2e model."));
  if (output.length !== lines.length || answered.length !== lines.length) {
    throw new Error(`the output file has ${output.length} lines, ${answered.length} with the model's answer: ${output.join("\n").slice(0, 600)}`);
  }
  await shot("batches");
}

async function createApiKey() {
  await openFromMenu("API keys");
  await page.getByRole("button", { name: "Create API key" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Create API key" }));
  await dialog.getByLabel("Name", { exact: true }).fill(KEY_NAME);
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  const shown = await opened(page.getByRole("dialog", { name: "Your new API key" }));
  result.api_key = await valueOf(shown.getByTestId("new-key"), "the key shown", (key) => /^sk-\S{16,}$/.test(key));
  const panel = await tab(shown, "Python · DashScope SDK");
  // The snippet names the workspace's chat model once the models have loaded (before, a
  // placeholder one): wait until it carries the new key and the chat model.
  const snippet = panel.locator("pre").filter({ hasText: "dashscope.base_http_api_url" }).filter({ hasText: result.api_key }).filter({ hasText: `model="${CHAT_MODEL}"` });
  await snippet.waitFor(); // else: the snippet does not carry the new key, or not the chat model
  result.snippets.api_keys_dashscope = await snippet.innerText();
  await shot("api-key-created");
  await shown.getByRole("button", { name: "I have copied it" }).click();
  await shown.waitFor({ state: "hidden" });
  await page.getByRole("row").filter({ hasText: KEY_NAME }).waitFor();
  await shot("api-keys");
}

async function members() {
  await openFromMenu("Members");
  await page.getByRole("cell", { name: EMAIL }).first().waitFor();
  await shot("members");
}

async function plugins() {
  await openFromMenu("Plugins");
  const installed = await tab(page, "Plugins", { click: false });
  await installed.getByRole("row").filter({ hasText: /calculator/i }).first().waitFor();
  await shot("plugins");
  // The Plugins tab stays mounted (hidden) and names the calculator too: look in Tools'.
  const tools = await tab(page, "Tools");
  await page.waitForURL(/\/plugins\/tools$/);
  await tools.getByRole("row").filter({ hasText: /calculator/i }).first().waitFor();
  await shot("plugins-tools");
}

/** Plugins → MCP servers: add the journey's MCP server (streamable HTTP); the platform
 * connects and lists its tool `add`; test-run it from the form made from its schema. */
async function mcpServers() {
  await openFromMenu("Plugins");
  const panel = await tab(page, "MCP servers");
  await page.waitForURL(/\/plugins\/mcp-servers$/);
  // The card's button (an empty list shows a second one): the first of the panel.
  await panel.getByRole("button", { name: "Add MCP server" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Add an MCP server" }));
  await dialog.getByLabel("Name", { exact: true }).fill(MCP_SERVER);
  await pick(dialog.getByRole("combobox", { name: "Transport", exact: true }), "Streamable HTTP");
  await dialog.getByLabel("URL", { exact: true }).fill(MCP_URL);
  const created = page.waitForResponse((r) => r.url().endsWith("/console/api/mcp-servers") && r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  const response = await created;
  if (!response.ok()) throw new Error(`adding the MCP server answered ${response.status()}: ${await response.text()}`);
  const server = await response.json();
  if (server.last_error) throw new Error(`the platform could not reach the MCP server at ${MCP_URL}: ${JSON.stringify(server.last_error)}`);
  const tool = server.tools.find((t) => t.name === MCP_TOOL);
  if (!tool) throw new Error(`the MCP server lists ${JSON.stringify(server.tools.map((t) => t.name))}, not ${MCP_TOOL}`);
  result.mcp_server_id = server.id;
  result.mcp_tool_id = tool.id;
  await dialog.waitFor({ state: "hidden" });
  // Its row (the list refetches after the save): connected; open it to see its tools.
  const row = panel.locator(`tr[data-row-key="${server.id}"]`);
  await row.getByText("Connected", { exact: true }).waitFor();
  await row.getByRole("button", { name: "Expand row" }).click();
  const tools = panel.getByTestId(`mcp-tools-${MCP_SERVER}`);
  // (The description may be measured for its ellipsis in a hidden copy: a filter, not getByText.)
  const toolRow = tools.getByRole("row").filter({ has: page.getByRole("cell", { name: MCP_TOOL, exact: true }) }).filter({ hasText: "Add two integers." });
  await toolRow.getByText(MCP_FUNCTION, { exact: true }).waitFor();
  await toolRow.getByRole("switch", { name: `Enable ${MCP_TOOL}`, checked: true }).waitFor();
  await shot("mcp-servers");
  // A test run: the form made from add's schema (a, b), its answer.
  await toolRow.getByRole("button", { name: `Test-run ${MCP_TOOL}`, exact: true }).click();
  const drawer = await opened(page.getByRole("dialog", { name: `Test run: ${MCP_FUNCTION}` }));
  await drawer.getByLabel("A", { exact: true }).fill("2");
  await drawer.getByLabel("B", { exact: true }).fill("3");
  await valueOf(drawer.getByLabel("A", { exact: true }), "a's field", (v) => v === "2");
  await valueOf(drawer.getByLabel("B", { exact: true }), "b's field", (v) => v === "3");
  const invoked = page.waitForResponse((r) => r.url().endsWith(`/tools/${tool.id}/invoke`) && r.request().method() === "POST");
  await drawer.getByTestId("run-tool").click();
  const run = await invoked;
  if (!run.ok()) throw new Error(`test-running ${MCP_TOOL} answered ${run.status()}: ${await run.text()}`);
  const sent = run.request().postDataJSON()?.arguments;
  if (JSON.stringify(sent) !== JSON.stringify({ a: 2, b: 3 })) throw new Error(`the form sent ${JSON.stringify(sent)}, not {"a": 2, "b": 3}`);
  await drawer.getByTestId("tool-result").filter({ hasText: /^5$/ }).waitFor();
  await drawer.getByText(/^Returned in \d+ ms$/).waitFor();
  await shot("mcp-tool-run");
  await drawer.getByRole("button", { name: "Close", exact: true }).click();
  await drawer.waitFor({ state: "hidden" });
}

/** A new agent app with the MCP server's `add` (picked under "MCP · calc"): its playground
 * answers through the tool (the scripted model calls calc__add, reads 42, answers). */
async function mcpApp() {
  await openFromMenu("Apps");
  await page.getByRole("button", { name: "Create app" }).first().click();
  const dialog = await opened(page.getByRole("dialog", { name: "Create an app" }));
  await dialog.getByRole("radio", { name: "Agent", exact: true, checked: true }).waitFor({ state: "attached" });
  await dialog.getByLabel("Name", { exact: true }).fill(MCP_APP_NAME);
  await dialog.getByLabel("Description").fill("Adds numbers with the calc MCP server's tool.");
  await dialog.getByRole("button", { name: "Create", exact: true }).click();
  await page.waitForURL(/\/apps\/[0-9a-f-]{36}/);
  result.mcp_app_id = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("heading", { name: MCP_APP_NAME }).waitFor();
  const panel = await tab(page, "Configure", { click: false });
  await pick(panel.getByTestId("app-model").getByRole("combobox"), CHAT_MODEL);
  await panel.getByTestId("app-prompt").fill("You do arithmetic with the calculator tool.");
  await pick(panel.getByTestId("app-tools").getByRole("combobox"), `${MCP_TOOL} · Add two integers.`, { close: true, group: `MCP · ${MCP_SERVER}` });
  const saved = page.waitForResponse((r) => r.url().endsWith(`/apps/${result.mcp_app_id}/draft`) && r.request().method() === "PUT");
  await panel.getByTestId("save-draft").click();
  const response = await saved;
  if (response.status() !== 200) throw new Error(`saving the draft answered ${response.status()}: ${await response.text()}`);
  const tools = response.request().postDataJSON()?.tools ?? [];
  if (JSON.stringify(tools) !== JSON.stringify([{ type: "mcp", id: result.mcp_tool_id }])) throw new Error(`the draft saved the tools ${JSON.stringify(tools)}`);
  await panel.getByTestId("app-tools").getByText(`${MCP_TOOL} · Add two integers.`).filter({ visible: true }).first().waitFor();
  await shot("mcp-app-configure");
  const playground = await appTab("Playground", "playground");
  await playground.getByTestId("app-input").fill(MCP_QUESTION);
  await playground.getByTestId("app-send").click();
  await playground.getByTestId("app-turn-assistant").filter({ hasText: MCP_ANSWER }).waitFor({ timeout: 60_000 });
  // Its thought: the call of calc__add, with its arguments and what it returned.
  await playground.getByRole("button", { name: "Thoughts (1)", exact: true }).click();
  await playground.getByTestId("thoughts").filter({ visible: true }).filter({ hasText: MCP_FUNCTION }).filter({ hasText: "42" }).waitFor();
  await shot("mcp-app-playground");
}

async function usage() {
  await openFromMenu("Usage");
  await page.getByRole("radiogroup").getByText("By model", { exact: true }).click();
  await page.getByRole("radio", { name: "By model", exact: true, checked: true }).waitFor({ state: "attached" });
  await page.getByRole("columnheader", { name: "By model", exact: true }).waitFor();
  await page.getByRole("row").filter({ hasText: CHAT_MODEL }).waitFor();
  await page.getByTestId("usage-chart").waitFor();
  await page.getByTestId("quota-limit").first().waitFor();
  await shot("usage");
}

async function admin() {
  await openFromMenu("Platform admin");
  // Each tab's rows in its own panel: before a switch renders, the last tab's rows (which
  // name the demo workspace too) are still the ones shown.
  const endpoints = await tab(page, "Model endpoints", { click: false });
  await endpoints.getByRole("row").filter({ hasText: CHAT_MODEL }).first().waitFor();
  await shot("admin-endpoints");
  const workspaces = await tab(page, "Workspaces");
  await workspaces.getByRole("row").filter({ hasText: "demo" }).first().waitFor();
  await shot("admin-workspaces");
  const quotas = await tab(page, "Quotas");
  await quotas.getByRole("row").filter({ hasText: "demo" }).first().waitFor();
  await shot("admin-quotas");
}

/** The same console in Chinese: a knowledge base's page, to see the CJK text render. */
async function chinese() {
  await page.getByRole("button", { name: "language", exact: true }).click();
  await page.getByRole("menuitem", { name: "中文", exact: true }).click();
  // The console switched (and saved the choice) before we load a page afresh.
  await sideMenu().getByRole("link", { name: "知识库", exact: true }).waitFor();
  await page.goto(`${BASE}/knowledge-bases/${result.knowledge_base_id}`);
  const documents = await tab(page, "文档", { click: false });
  await documents.getByRole("row").filter({ hasText: DOC_NAME }).waitFor();
  await shot("knowledge-base-zh");
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  for (const name of readdirSync(SHOTS)) if (/^(\d\d-.*|failure)\.png$/.test(name)) rmSync(join(SHOTS, name));
  const browser = await chromium.launch({ executablePath: env.E2E_CHROMIUM ?? "/usr/bin/chromium", headless: true, args: CHROME_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", timezoneId: "UTC" });
    // English, whatever the machine's language (the selectors read the English strings),
    // until the journey picks Chinese in the header at the end.
    await context.addInitScript(() => window.localStorage.getItem("ministudio.language") || window.localStorage.setItem("ministudio.language", "en"));
    context.setDefaultTimeout(STEP_TIMEOUT);
    page = await context.newPage();
    // E2E_CPU_SLOWDOWN=4 runs the page's scripts four times slower (Chromium's CPU
    // throttling): how a loaded CI machine is tried on a fast one.
    const slowdown = Number(env.E2E_CPU_SLOWDOWN ?? 1);
    if (slowdown > 1) await (await context.newCDPSession(page)).send("Emulation.setCPUThrottlingRate", { rate: slowdown });
    page.on("pageerror", (error) => pageErrors.push(String(error.stack ?? error)));
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
    try {
      await step("sign in", signIn);
      await step("models page lists the chat model; its playground answers", models);
      await step("create a knowledge base (use-m3)", createKnowledgeBase);
      await step("upload a document and wait until it is ready", uploadDocument);
      await step("hit test finds the document", hitTest);
      await step("create an app", createApp);
      await step("configure it: the model, the knowledge base; save", configureApp);
      await step("playground: the answer streams in, with a citation that opens its source", playground);
      await step("publish with notes; versions lists v1", publish);
      await step("API tab: the app's id and snippet; runs", appApi);
      await step("create a workflow app (blank)", createWorkflow);
      await step("canvas: a condition and two answers between start and end, connected by dragging; checked; saved", drawWorkflow);
      await step("workflow playground: the nodes of the branch taken light up", workflowPlayground);
      await step("publish the workflow; the apps list shows its kind", publishWorkflow);
      await step("batch inference: upload a JSONL file, create a batch, wait until it completes, download the answers", batch);
      await step("create an API key; the snippet carries it", createApiKey);
      await step("members page", members);
      await step("plugins page lists the built-in tools", plugins);
      await step("MCP servers: add calc (streamable HTTP); its tool add is listed; a test run of add(2, 3) answers 5", mcpServers);
      await step("an agent app with MCP · calc's add: the playground answers 19 + 23 through it", mcpApp);
      await step("usage page shows the model's calls and the quota", usage);
      await step("platform admin: endpoints, workspaces, quotas", admin);
      await step("the console in Chinese", chinese);
    } catch (error) {
      log(`FAILED at step "${error.step ?? "?"}": ${error.message.split("\n").slice(0, 6).join("\n")}`);
      log(`page: ${page.url()}`);
      for (const e of pageErrors.slice(0, 3)) log(`uncaught error in the page: ${e}`);
      for (const e of consoleErrors.slice(-5)) log(`console error: ${e}`);
      await page
        .screenshot({ path: join(SHOTS, "failure.png"), fullPage: true, timeout: 15_000 })
        .then(() => log(`screenshot: ${join(SHOTS, "failure.png")}`))
        .catch((error) => log(`no screenshot: ${error.message.split("\n")[0]}`));
      return 1;
    }
    if (pageErrors.length) {
      log(`FAILED: the page threw ${pageErrors.length} uncaught error(s):\n${pageErrors.slice(0, 5).join("\n")}`);
      return 1;
    }
    if (RESULT) writeFileSync(RESULT, JSON.stringify(result, null, 2));
    log(`done: ${result.screenshots.length} screenshots in ${SHOTS}`);
    return 0;
  } finally {
    await browser.close();
  }
}

// A last bound, for runs by hand (acceptance/console_e2e.py has its own).
setTimeout(() => {
  log(`FAILED: the journey did not finish within ${JOURNEY_TIMEOUT / 1000}s`);
  process.exit(2);
}, JOURNEY_TIMEOUT).unref();
process.exitCode = await main();
