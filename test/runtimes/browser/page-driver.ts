// Drives the test page (build/page/) from playwright: build it when missing, connect, read the log.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Bundle the page unless `npm run build` already did. */
export function ensurePageBuilt(): void {
  if (existsSync(`${root}build/page/index.html`) && existsSync(`${root}build/page/wasmsocket.js`)) return;
  execFileSync(process.execPath, [`${root}scripts/build-page.mjs`], { cwd: root, stdio: "inherit" });
}

/** Open the page at `pageUrl`, connect to `wsUrl` and wait for the open event. */
export async function connectPage(page: Page, pageUrl: string, wsUrl: string, protocols = ""): Promise<void> {
  await page.goto(pageUrl);
  await page.waitForSelector("body[data-ready]");
  await page.fill("#url", wsUrl);
  await page.fill("#protocols", protocols);
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="OPEN"]');
}

/** Wait until a log entry of `kind` contains `text`; its text. */
export async function waitForLog(page: Page, kind: string, text: string): Promise<string> {
  const entry = page.locator(`#log li[data-kind="${kind}"]`, { hasText: text }).first();
  await entry.waitFor();
  return (await entry.textContent()) ?? "";
}

/** Run the throughput test with small numbers; the result's text and verified/mismatch counts. */
export async function runThroughput(
  page: Page,
  messages: number,
  size: number,
  inFlight: number,
): Promise<{ text: string; verified: number; mismatches: number }> {
  await page.fill("#throughput-count", String(messages));
  await page.fill("#throughput-size", String(size));
  await page.fill("#throughput-inflight", String(inFlight));
  await page.evaluate(() => document.querySelector("#throughput-result")!.removeAttribute("data-verified"));
  await page.click("#run-throughput");
  const result = page.locator("#throughput-result[data-verified]");
  await result.waitFor({ timeout: 20_000 });
  return {
    text: (await result.textContent()) ?? "",
    verified: Number(await result.getAttribute("data-verified")),
    mismatches: Number(await result.getAttribute("data-mismatches")),
  };
}

/** Fill the close code and reason and press Close. */
export async function closeFromPage(page: Page, code: number, reason: string): Promise<void> {
  await page.fill("#close-code", String(code));
  await page.fill("#close-reason", reason);
  await page.click("#close");
}
