// permessage-deflate with Chromium's WebSocket (which always offers it) against our server, messages both
// ways, over the response parameters Chromium accepts.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PerMessageDeflateOptions } from "../../bindings/protocol/extensions.js";
import type { ServerConnection } from "../../runtimes/node/index.js";
import { chromiumPath, launchChromium, type Browser } from "../runtimes/browser/chromium.js";
import { echoServer, listen } from "../runtimes/node/peers.js";
import { jsonText } from "../support/json-text.js";

const POLICIES: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 9 },
  { serverMaxWindowBits: 8 },
  { clientMaxWindowBits: 9 },
  { clientMaxWindowBits: 12, serverMaxWindowBits: 12, serverNoContextTakeover: true },
];

interface PageResult {
  extensions: string;
  echoes: boolean[];
  close: number;
}

/** Runs in the page: connect, send each message, compare the echo, close. */
async function exchange(url: string, texts: string[]): Promise<PageResult> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const next = () =>
    new Promise<MessageEvent>((resolve) => ws.addEventListener("message", resolve, { once: true }));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const echoes: boolean[] = [];
  for (const text of texts) {
    ws.send(text);
    echoes.push((await next()).data === text);
    const bytes = new TextEncoder().encode(text);
    ws.send(bytes);
    const back = new Uint8Array((await next()).data as ArrayBuffer);
    echoes.push(back.length === bytes.length && back.every((b, i) => b === bytes[i]));
  }
  const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
  ws.close(1000, "page done");
  return { extensions: ws.extensions, echoes, close: (await closed).code };
}

/** Runs in the page: connect, say "ready", compare each message that comes with the next expected, close. */
async function subscribe(url: string, expected: string[]): Promise<PageResult> {
  const ws = new WebSocket(url);
  const echoes: boolean[] = [];
  const all = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      echoes.push(e.data === expected[echoes.length]);
      if (echoes.length === expected.length) resolve();
    }),
  );
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.send("ready");
  await all;
  const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
  ws.close(1000, "page done");
  return { extensions: ws.extensions, echoes, close: (await closed).code };
}

describe.skipIf(!existsSync(chromiumPath))("Chromium as a subscriber of our server's publishes", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const policy of [{}, { serverNoContextTakeover: true }] as PerMessageDeflateOptions[])
    it(`gets them compressed, in order with its own messages, policy ${JSON.stringify(policy)}`, async () => {
      const { wss, url } = await listen({ perMessageDeflate: policy });
      const sizes = [10, 2000, 70_000, 1 << 20, 5000];
      const expected: string[] = [];
      for (const [i, size] of sizes.entries()) {
        const published = jsonText(size, i);
        expected.push(published, `own ${i}: ${published.slice(0, 3000)}`);
      }
      const opened = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
      wss.on("connection", (conn) =>
        conn.once("message", () => {
          conn.subscribe("room");
          for (let i = 0; i < expected.length; i += 2) {
            wss.publish("room", expected[i]);
            conn.send(expected[i + 1]);
          }
        }),
      );
      const result = await browser.page.evaluate(
        ([fn, target, messages]) => new Function(`return (${fn})`)()(target, messages) as Promise<PageResult>,
        [subscribe.toString(), url, expected] as const,
      );
      const conn = await opened;
      expect(result.extensions).toBe(conn.extensions);
      expect(result.extensions).toMatch(/^permessage-deflate/);
      expect(result.echoes).toEqual(Array(expected.length).fill(true));
      expect(result.close).toBe(1000);
      // Compressed on the wire: ~1.2 MB of messages in far fewer bytes.
      expect(conn.socket.bytesWritten).toBeLessThan(400_000);
      await wss.close();
    });
});

describe.skipIf(!existsSync(chromiumPath))("Chromium ↔ our server, permessage-deflate", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const policy of POLICIES)
    it(`policy ${JSON.stringify(policy)}`, async () => {
      const { wss, url } = await echoServer({ perMessageDeflate: { ...policy, threshold: 0 } });
      const opened = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
      const texts = ["", "x", jsonText(1024, 1), jsonText(1024, 2), jsonText(70_000, 3), "é✓".repeat(20_000)];
      const result = await browser.page.evaluate(
        ([fn, target, messages]) => new Function(`return (${fn})`)()(target, messages) as Promise<PageResult>,
        [exchange.toString(), url, texts] as const,
      );
      const conn = await opened;
      expect(result.extensions).toBe(conn.extensions);
      expect(result.extensions).toMatch(/^permessage-deflate/);
      expect(result.echoes).toEqual(Array(texts.length * 2).fill(true));
      expect(result.close).toBe(1000);
      // Chromium compressed what it sent: ~400 KB of payloads in far fewer bytes.
      expect(conn.socket.bytesRead).toBeLessThan(150_000);
      if (policy.serverMaxWindowBits !== 8) expect(conn.socket.bytesWritten).toBeLessThan(150_000);
      await wss.close();
    });
});
