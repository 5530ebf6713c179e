// The test page in Chromium against a server that is not ours: a `ws` echo server. Text, binary,
// subprotocol choice, the throughput test, and a close with code and reason seen by both ends.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocketServer } from "ws";
import { startDemoServer, type DemoServer } from "../../examples/demo-server.js";
import { launchChromium, type Browser } from "../runtimes/browser/chromium.js";
import {
  closeFromPage,
  connectPage,
  ensurePageBuilt,
  runThroughput,
  waitForLog,
} from "../runtimes/browser/page-driver.js";

describe("test page against a ws echo server", () => {
  let demo: DemoServer;
  let browser: Browser;
  let server: Server;
  let wss: WebSocketServer;
  let wsUrl: string;
  const closes: { code: number; reason: string }[] = [];

  beforeAll(async () => {
    ensurePageBuilt();
    server = createServer();
    wss = new WebSocketServer({
      server,
      handleProtocols: (offered) => (offered.has("echo.v2") ? "echo.v2" : false),
    });
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    wsUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/any/path?x=1`;
    demo = await startDemoServer({ port: 0, host: "127.0.0.1" });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    for (const ws of wss?.clients ?? []) ws.terminate();
    await new Promise((resolve) => wss?.close(resolve));
    await new Promise((resolve) => server?.close(resolve));
    await demo?.close();
  });

  it("connects with a subprotocol the ws server chooses", async () => {
    await connectPage(browser.page, demo.url, wsUrl, "echo.v1, echo.v2");
    expect(await waitForLog(browser.page, "open", "protocol")).toContain('protocol="echo.v2"');
  });

  it("gets text and binary echoes back", async () => {
    const page = browser.page;
    await page.fill("#text", "interop ✓ with ws");
    await page.click("#send-text");
    expect(await waitForLog(page, "message", "interop")).toContain("text (19 B): interop ✓ with ws");
    await page.fill("#hex", "0x00,0x7f,0x80,0xff");
    await page.click("#send-hex");
    expect(await waitForLog(page, "message", "binary")).toContain("binary (4 B): 00 7f 80 ff");
  });

  it("verifies every throughput echo byte for byte", async () => {
    const result = await runThroughput(browser.page, 200, 8192, 8);
    expect(result).toMatchObject({ verified: 200, mismatches: 0 });
  });

  it("closes with code 4000 and a reason that the ws server receives", async () => {
    await closeFromPage(browser.page, 4000, "interop done");
    expect(await waitForLog(browser.page, "closing", "code=")).toContain('code=4000 reason="interop done"');
    expect(await waitForLog(browser.page, "close", "code=")).toContain(
      'code=4000 reason="interop done" wasClean=true',
    );
    await vi.waitFor(() => expect(closes).toEqual([{ code: 4000, reason: "interop done" }]), {
      timeout: 2000,
    });
  });
});
