// Drives exported content in Debian's Chromium (one browser for the whole run) and prints
// what happened as JSON. Usage: node drive.mjs SCENARIOS.json RESULTS.json
//
// A scenario is {name, url, frame, calls}: open url; find the content (the page itself, or
// the frame whose URL contains `frame`); wait for window.ContentBridge; make each call
// [method, ...args] in order, awaiting each (["expectError", method, ...args] expects a
// throw); then collect the bridge state and, in an LMS host page, window.lmsLog and
// window.lmsSnapshot(). A scenario with "unload": true navigates the content away instead
// of calling finish, to prove the bridge finishes on pagehide. A scenario with "parts": true
// opens an xAPI launcher page, follows each part link in turn and drives every part; each
// page it reaches (the launcher and every part) has its look recorded (lookAt: the brand's
// custom properties as the browser resolved them, the title's colour, the header's logo).
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [scenarioFile, resultFile] = process.argv.slice(2);
const scenarios = JSON.parse(readFileSync(scenarioFile, "utf8"));
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const userDataDir = mkdtempSync(join(tmpdir(), "content-bridge-chromium-"));
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];

const context = await chromium.launchPersistentContext(userDataDir, { executablePath, args, headless: true });
const results = {};
try {
  for (const scenario of scenarios) {
    results[scenario.name] = await run(scenario);
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
writeFileSync(resultFile, JSON.stringify(results, null, 2));

async function run(scenario) {
  const page = await context.newPage();
  const console = [];
  page.on("console", (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`));
  const out = { calls: [], console };
  try {
    await page.goto(scenario.url, { waitUntil: "load", timeout: 15000 });
    if (scenario.parts) {
      await followParts(page, scenario, out);
      return out;
    }
    const content = await contentFrame(page, scenario.frame);
    await callBridge(content, scenario.calls, out);
    if (scenario.unload) {
      await content.goto("about:blank");
      await page.waitForTimeout(200);
    }
    if (scenario.frame) {
      out.lmsLog = await page.evaluate(() => window.lmsLog);
      out.cmi = await page.evaluate(() => window.lmsSnapshot());
    }
  } catch (error) {
    out.error = String(error && error.stack || error);
  } finally {
    await page.close();
  }
  return out;
}

// Make each call on the content's ContentBridge, in order, and keep what the bridge knows.
async function callBridge(content, calls, out) {
  await content.waitForFunction(() => typeof window.ContentBridge === "object", null, { timeout: 10000 });
  for (const call of calls) {
    out.calls.push(await content.evaluate(async (call) => {
      const expectError = call[0] === "expectError";
      const [method, ...callArgs] = expectError ? call.slice(1) : call;
      try {
        const value = await window.ContentBridge[method](...callArgs);
        return { call, ok: !expectError, value: value === undefined ? null : value };
      } catch (error) {
        return { call, ok: expectError, error: String(error && error.message || error) };
      }
    }, call));
  }
  out.bridge = await content.evaluate(() => window.ContentBridge.state());
}

// An xAPI course's launcher page: click each part's link as a learner would (back on the
// launcher between parts) and drive the part that opens.
async function followParts(page, scenario, out) {
  const links = "a[data-activity]";
  out.look = await lookAt(page.mainFrame());
  out.links = await page.$$eval(links, (found) => found.map((a) => ({ href: a.href, activity: a.dataset.activity })));
  out.parts = [];
  for (let index = 0; index < out.links.length; index++) {
    if (index > 0) await page.goto(scenario.url, { waitUntil: "load", timeout: 15000 });
    const launcher = page.url();
    await page.locator(links).nth(index).click();
    await page.waitForURL((url) => url.href !== launcher, { timeout: 10000 });
    await page.waitForLoadState("load");
    const part = { url: page.url(), calls: [], look: await lookAt(page.mainFrame()) };
    await callBridge(page.mainFrame(), scenario.calls, part);
    out.parts.push(part);
  }
}

// What the learner sees of the brand on a page, as the browser computed it.
async function lookAt(frame) {
  return frame.evaluate(() => {
    const root = getComputedStyle(document.documentElement);
    const title = document.querySelector("h1");
    const logo = document.querySelector(".content-brand img");
    return {
      primary: root.getPropertyValue("--brand-primary").trim(),
      logoProperty: root.getPropertyValue("--brand-logo").trim(),
      titleColour: title ? getComputedStyle(title).color : null,
      header: document.querySelector(".content-brand")?.textContent ?? null,
      logo: logo ? { alt: logo.alt, width: logo.naturalWidth, complete: logo.complete } : null,
    };
  });
}

async function contentFrame(page, marker) {
  if (!marker) return page.mainFrame();
  for (let attempt = 0; attempt < 100; attempt++) {
    const frame = page.frames().find((candidate) => candidate.url().includes(marker));
    if (frame) {
      await frame.waitForLoadState("load");
      return frame;
    }
    await page.waitForTimeout(50);
  }
  throw new Error(`no frame with ${marker}`);
}
