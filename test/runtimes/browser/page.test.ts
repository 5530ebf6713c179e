// The test page in Chromium against the demo server (our WebSocketServer): echo, close, throughput,
// latency, chat across tabs, and the engine self-test on both builds.
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoServer, type DemoServer } from "../../../examples/demo-server.js";
import { launchChromium, type Browser } from "./chromium.js";
import { closeFromPage, connectPage, ensurePageBuilt, runThroughput, waitForLog } from "./page-driver.js";

describe("test page against the demo server", () => {
  let demo: DemoServer;
  let browser: Browser;
  const errors: string[] = [];

  beforeAll(async () => {
    ensurePageBuilt();
    demo = await startDemoServer({ port: 0, host: "127.0.0.1" });
    browser = await launchChromium();
    browser.page.on("pageerror", (error) => errors.push(String(error)));
  });

  afterAll(async () => {
    if (browser) {
      mkdirSync("test-results", { recursive: true });
      await browser.page.screenshot({ path: "test-results/page.png", fullPage: true });
      await browser.close();
    }
    await demo?.close();
  });

  it("serves the page and connects to /echo", async () => {
    await connectPage(browser.page, demo.url, `ws://127.0.0.1:${demo.port}/echo`);
    expect(await waitForLog(browser.page, "open", "protocol")).toContain('protocol=""');
  });

  it("echoes text and binary, shown in the log", async () => {
    const page = browser.page;
    await page.fill("#text", "héllo wasmsocket ✓");
    await page.click("#send-text");
    expect(await waitForLog(page, "message", "héllo")).toContain("text (21 B): héllo wasmsocket ✓");
    await page.fill("#hex", "00 01 fe ff 80");
    await page.click("#send-hex");
    expect(await waitForLog(page, "message", "binary")).toContain("binary (5 B): 00 01 fe ff 80");
  });

  it("sends a file as one binary message", async () => {
    const page = browser.page;
    await page.setInputFiles("#file", {
      name: "bytes.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0x00, 0x42]),
    });
    await page.click("#send-file");
    expect(await waitForLog(page, "message", "ca fe")).toContain("binary (6 B): ca fe ba be 00 42");
  });

  it("runs the throughput test with every echo verified byte for byte", async () => {
    const result = await runThroughput(browser.page, 300, 2048, 16);
    expect(result).toMatchObject({ verified: 300, mismatches: 0 });
    expect(result.text).toMatch(/MB\/s.*msgs\/s/);
    expect(await browser.page.locator("#throughput-chart polyline").count()).toBe(1);
  });

  it("runs the latency test and reports min, median and p99", async () => {
    const page = browser.page;
    await page.fill("#latency-count", "50");
    await page.click("#run-latency");
    await page.locator("#latency-result[data-median]").waitFor();
    expect(await page.textContent("#latency-result")).toMatch(/50 echoes: min .* median .* p99 /);
    expect(await page.locator("#latency-chart polyline").count()).toBe(1);
  });

  it("broadcasts chat messages across two tabs", async () => {
    const first = browser.page;
    const second = await browser.context.newPage();
    try {
      await second.goto(demo.url);
      await second.waitForSelector("body[data-ready]");
      await first.fill("#chat-name", "alice");
      await first.click("#chat-join");
      await first.locator("#chat-state", { hasText: "1 online" }).waitFor();
      await second.click("#chat-join");
      // Both are members once the second hears the presence broadcast sent as it connected.
      await second.locator("#chat-state", { hasText: "2 online" }).waitFor();
      await first.fill("#chat-text", "hello from tab one");
      await first.click("#chat-send");
      const line = second.locator("#chat-messages li", { hasText: "hello from tab one" });
      await line.waitFor();
      expect(await line.textContent()).toBe("alice: hello from tab one");
      await first.locator("#chat-messages li", { hasText: "hello from tab one" }).waitFor();
    } finally {
      await second.close();
    }
  });

  it("closes with code 4000 and a reason, the server's close reply shown in the log", async () => {
    const page = browser.page;
    await closeFromPage(page, 4000, "done testing");
    expect(await waitForLog(page, "closing", "code=")).toContain('code=4000 reason="done testing"');
    // The server echoes the code (RFC 6455 §5.5.1); echoing the reason is optional.
    expect(await waitForLog(page, "close", "code=")).toMatch(
      /code=4000 reason="(done testing)?" wasClean=true/,
    );
    await page.locator('#state[data-state="CLOSED"]').waitFor();
  });

  it("passes every shared frame vector on both engine builds in Chromium", async () => {
    const page = browser.page;
    await page.click("#run-selftest");
    for (const build of ["simd", "mvp"]) {
      const output = page.locator(`#selftest-${build}[data-total]`);
      await output.waitFor({ timeout: 40_000 });
      const total = Number(await output.getAttribute("data-total"));
      expect(total).toBeGreaterThan(100);
      const failures = (await page.textContent("#selftest-failures")) ?? "";
      expect(await output.getAttribute("data-failed"), failures).toBe("0");
      expect(Number(await output.getAttribute("data-passed"))).toBe(total);
    }
    expect(errors).toEqual([]);
  }, 60_000);
});
