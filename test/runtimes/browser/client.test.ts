// The reconnecting browser client (runtimes/browser/client.ts, loaded from build/page/wasmsocket.js)
// in Chromium: reconnect after the server restarts with queued sends delivered, lifecycle events,
// giving up after maxRetries, rejecting sends by option, and the application-level heartbeat.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { WebSocketServer as OurServer } from "../../../runtimes/node/index.js";
import { startDemoServer, type DemoServer } from "../../../examples/demo-server.js";
import { launchChromium, type Browser } from "./chromium.js";
import { ensurePageBuilt } from "./page-driver.js";

/** What the in-page harness records. */
interface Recorded {
  events: string[];
  received: string[];
}

declare global {
  interface Window {
    recorded: Recorded;
    client: import("../../../runtimes/browser/client.js").WebSocketClient;
    wasmsocket: typeof import("../../../runtimes/browser/index.js");
  }
}

describe("browser client in Chromium", () => {
  let demo: DemoServer;
  let browser: Browser;

  beforeAll(async () => {
    ensurePageBuilt();
    demo = await startDemoServer({ port: 0, host: "127.0.0.1" });
    browser = await launchChromium();
    await browser.page.goto(demo.url);
    // The package's browser entry as bundled by scripts/build-page.mjs, imported by the page itself.
    await browser.page.addScriptTag({
      type: "module",
      content: "import * as wasmsocket from '/wasmsocket.js'; window.wasmsocket = wasmsocket;",
    });
    await browser.page.waitForFunction(() => window.wasmsocket !== undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  /** Make `window.client` with `options` and record its events and text messages. */
  async function openClient(url: string, options: object): Promise<void> {
    await browser.page.evaluate(
      ({ url, options }) => {
        const { WebSocketClient } = window.wasmsocket;
        // Each client records into its own object: a previous test's client may still report its close.
        const recorded: Recorded = { events: [], received: [] };
        window.recorded = recorded;
        const client = new WebSocketClient(url, undefined, options);
        for (const type of ["connecting", "open", "close", "reconnecting", "finish", "error"]) {
          client.addEventListener(type, (event: Event) => {
            const detail = (event as CustomEvent).detail as Record<string, unknown> | undefined;
            const close = event as CloseEvent;
            recorded.events.push(
              type === "close"
                ? `close ${close.code} ${close.reason}`
                : type === "finish"
                  ? `finish ${String(detail?.reason)}`
                  : type,
            );
          });
        }
        client.onmessage = (event) => recorded.received.push(String(event.data));
        window.client = client;
      },
      { url, options },
    );
  }

  const recorded = () => browser.page.evaluate(() => window.recorded);
  const waitUntil = (predicate: string) =>
    browser.page.waitForFunction(predicate, undefined, { timeout: 10_000 });

  it("reconnects after the server restarts and delivers the sends queued meanwhile", async () => {
    const port = demo.port;
    await openClient(`ws://127.0.0.1:${port}/echo`, {
      reconnect: { minDelay: 100, maxDelay: 400, jitter: 0 },
    });
    await waitUntil("window.recorded.events.includes('open')");
    await browser.page.evaluate(() => window.client.send("before"));
    await waitUntil("window.recorded.received.includes('before')");

    await demo.close();
    await waitUntil("window.recorded.events.includes('reconnecting')");
    const queued = await browser.page.evaluate(() => {
      window.client.send("queued 1");
      window.client.send("queued 2");
      return { queued: window.client.queuedMessages, state: window.client.readyState };
    });
    expect(queued).toEqual({ queued: 2, state: 0 });

    demo = await startDemoServer({ port, host: "127.0.0.1" });
    await waitUntil("window.recorded.received.length >= 3");
    await browser.page.evaluate(() => window.client.send("after"));
    await waitUntil("window.recorded.received.includes('after')");
    const { events, received } = await recorded();
    expect(received).toEqual(["before", "queued 1", "queued 2", "after"]);
    const lifecycle = events.filter((e) => e !== "error");
    expect(lifecycle.slice(0, 4)).toEqual([
      "connecting",
      "open",
      expect.stringMatching(/^close 10\d\d/),
      "reconnecting",
    ]);
    expect(events.filter((e) => e === "open")).toHaveLength(2);
    expect(events.at(-1)).toBe("open");

    await browser.page.evaluate(() => window.client.close(1000, "done"));
    await waitUntil("window.recorded.events.some((e) => e.startsWith('finish'))");
    expect((await recorded()).events.slice(-2)).toEqual([
      expect.stringMatching(/^close 1000/),
      "finish closed",
    ]);
  });

  it("gives up after maxRetries and reports finish", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await openClient(`ws://127.0.0.1:${port}/`, { reconnect: { minDelay: 50, maxRetries: 2, jitter: 0 } });
    await waitUntil("window.recorded.events.some((e) => e.startsWith('finish'))");
    const { events } = await recorded();
    expect(events.filter((e) => e === "connecting")).toHaveLength(3);
    expect(events.filter((e) => e === "reconnecting")).toHaveLength(2);
    expect(events.at(-1)).toBe("finish retries");
    expect(await browser.page.evaluate(() => window.client.readyState)).toBe(3);
  });

  it("close() in a 'close' listener stops reconnecting and finishes once, with readyState CLOSED there", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const events = await browser.page.evaluate(async (url) => {
      const client = new window.wasmsocket.WebSocketClient(url, undefined, {
        reconnect: { minDelay: 50, maxRetries: 3, jitter: 0 },
      });
      const events: string[] = [];
      for (const type of ["connecting", "reconnecting", "finish"])
        client.addEventListener(type, () => events.push(type));
      client.addEventListener("close", (event) => {
        events.push(`close ${event.code} readyState ${client.readyState}`);
        client.close();
      });
      await new Promise<void>((resolve) => client.addEventListener("finish", () => resolve()));
      // Long enough for a second finish or a retry (minDelay 50) to show.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return events;
    }, `ws://127.0.0.1:${port}/`);
    expect(events).toEqual(["connecting", "close 1006 readyState 3", "finish"]);
  });

  it("rejects sends while connecting with whileConnecting: 'reject'", async () => {
    const url = `ws://127.0.0.1:${demo.port}/echo`;
    const thrown = await browser.page.evaluate((url) => {
      const client = new window.wasmsocket.WebSocketClient(url, undefined, { whileConnecting: "reject" });
      try {
        client.send("too early");
        return "sent";
      } catch (error) {
        return (error as DOMException).name;
      } finally {
        client.close();
      }
    }, url);
    expect(thrown).toBe("InvalidStateError");
  });

  it("answers our server's heartbeat pings (the browser sends pongs itself) and stays connected", async () => {
    const server = createServer();
    const wss = new OurServer({ server, heartbeat: { interval: 100, timeout: 500 } });
    let pongs = 0;
    wss.on("connection", (ws) => {
      ws.on("pong", () => pongs++);
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      await openClient(`ws://127.0.0.1:${port}/`, {});
      await waitUntil("window.recorded.events.includes('open')");
      // A ping after 100 ms of silence, then the next check 500 ms later: two rounds in 1.3 s.
      await browser.page.waitForTimeout(1300);
      await browser.page.evaluate(() => window.client.send("still here"));
      await waitUntil("window.recorded.received.includes('still here')");
      expect(pongs).toBeGreaterThanOrEqual(2);
      expect((await recorded()).events).toEqual(["connecting", "open"]);
      await browser.page.evaluate(() => window.client.close());
    } finally {
      await wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe("heartbeat", () => {
    let silent: WebSocketServer;
    let server: Server;

    beforeAll(async () => {
      // A peer that accepts and then never says anything: only the heartbeat can tell it is gone.
      server = createServer();
      silent = new WebSocketServer({ server });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    });

    afterAll(async () => {
      for (const ws of silent.clients) ws.terminate();
      await new Promise((resolve) => silent.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    });

    it("drops a silent connection after the timeout and reconnects", async () => {
      const port = (server.address() as AddressInfo).port;
      await openClient(`ws://127.0.0.1:${port}/`, {
        heartbeat: { interval: 150, timeout: 200 },
        reconnect: { minDelay: 50, maxRetries: 1, jitter: 0 },
      });
      await waitUntil("window.recorded.events.filter((e) => e === 'open').length >= 2");
      const { events } = await recorded();
      expect(events.slice(0, 5)).toEqual([
        "connecting",
        "open",
        "close 1006 no message within 200 ms of a heartbeat ping",
        "reconnecting",
        "connecting",
      ]);
      await browser.page.evaluate(() => window.client.close());
    });

    it("keeps an answering connection open and swallows the pong", async () => {
      await openClient(`ws://127.0.0.1:${demo.port}/echo`, {
        heartbeat: { interval: 100, timeout: 300, message: "hb", pong: "hb" },
      });
      await waitUntil("window.recorded.events.includes('open')");
      await browser.page.waitForTimeout(700);
      await browser.page.evaluate(() => window.client.send("real message"));
      await waitUntil("window.recorded.received.includes('real message')");
      const { events, received } = await recorded();
      expect(events).toEqual(["connecting", "open"]);
      expect(received).toEqual(["real message"]);
      await browser.page.evaluate(() => window.client.close());
    });
  });
});
