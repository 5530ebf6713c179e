// The client's `fragments: "stream"` mode and Blob payloads on both ends, on Node and Bun alike.
import { within } from "../../support/raw-client.js";
import { describe, echoServer, expect, host, it, listen, nextEvent, openClient, runtime } from "./harness.js";
import type { FragmentEvent } from "../../../bindings/api/events.js";

/** Collect "fragment" events until one with `last`, and any "message" event meanwhile. */
function collectFragments(ws: EventTarget): { done: Promise<FragmentEvent[]>; messages: unknown[] } {
  const messages: unknown[] = [];
  ws.addEventListener("message", (e) => messages.push((e as MessageEvent).data));
  const done = new Promise<FragmentEvent[]>((resolve) => {
    const events: FragmentEvent[] = [];
    const onFragment = (e: Event) => {
      events.push(e as FragmentEvent);
      if ((e as FragmentEvent).last) {
        ws.removeEventListener("fragment", onFragment);
        resolve(events);
      }
    };
    ws.addEventListener("fragment", onFragment);
  });
  return { done, messages };
}

function bytesOf(events: FragmentEvent[]): Buffer {
  return Buffer.concat(events.map((e) => Buffer.from(e.data as Uint8Array)));
}

describe(`client fragments: "stream" on ${runtime}`, () => {
  it("delivers a 1 MiB one-frame message as chunks marked first … last, never as a message", async () => {
    const { wss, url } = await listen();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 255;
    wss.on("connection", (peer) => peer.send(big));
    // Listening from the start: the server sends as soon as it accepts.
    const ws = new host.WebSocket(url, [], { fragments: "stream" });
    const { done, messages } = collectFragments(ws);
    const events = await within(done, 10_000, "the last fragment");
    expect(events.length).toBeGreaterThan(1);
    expect(events.map((e) => [e.first, e.binary])[0]).toEqual([true, true]);
    expect(events.slice(1).every((e) => !e.first)).toBe(true);
    expect(events.slice(0, -1).every((e) => !e.last)).toBe(true);
    expect(bytesOf(events).equals(big)).toBe(true);
    expect(messages).toEqual([]);
    ws.close();
    await wss.close();
  });

  it("decodes text fragments as strings, even when a chunk ends inside a character", async () => {
    const text = "héllo wörld ✓ 🎉 ".repeat(20);
    const { wss, url } = await listen();
    wss.on("connection", (peer) => peer.send(text, { fragmentSize: 1 }));
    const ws = new host.WebSocket(url, [], { fragments: "stream" });
    const { done } = collectFragments(ws);
    const events = await within(done, 10_000, "the last text fragment");
    expect(events.length).toBe(Buffer.byteLength(text));
    expect(events.every((e) => typeof e.data === "string" && !e.binary)).toBe(true);
    expect(events.map((e) => e.data).join("")).toBe(text);
    ws.close();
    await wss.close();
  });

  it("marks a small whole message first and last, with ArrayBuffer data per binaryType", async () => {
    const { wss, url } = await echoServer();
    const ws = await openClient(url, [], { fragments: "stream", binaryType: "arraybuffer" });
    const { done } = collectFragments(ws);
    ws.send(new Uint8Array([1, 2, 3]));
    const [event, ...rest] = await within(done, 5000, "one fragment");
    expect(rest).toEqual([]);
    expect([event.first, event.last, event.binary]).toEqual([true, true, true]);
    expect(event.data instanceof ArrayBuffer && [...new Uint8Array(event.data)]).toEqual([1, 2, 3]);
    ws.close();
    await wss.close();
  });
});

describe(`Blob payloads on ${runtime}`, () => {
  it("the client sends a Blob as binary, and later sends wait for it, in order, then close", async () => {
    const { wss, url } = await listen();
    const got: Array<[string, boolean]> = [];
    const closed = new Promise<number>((resolve) =>
      wss.on("connection", (peer) => {
        peer.on("message", (data, isBinary) =>
          got.push([Buffer.from(data as Uint8Array).toString(), isBinary]),
        );
        peer.on("close", (code) => resolve(code));
      }),
    );
    const ws = await openClient(url);
    const bytes = new TextEncoder().encode("bytes");
    ws.send(new Blob(["blob one"]));
    ws.send("text");
    ws.send(bytes);
    bytes.fill(0); // held sends were copied
    ws.send(new Blob([new Uint8Array([0x62, 0x32])]));
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(8 + 4 + 5 + 2);
    ws.close(1000);
    expect(await within(closed, 5000, "the server's close")).toBe(1000);
    expect(got).toEqual([
      ["blob one", true],
      ["text", false],
      ["bytes", true],
      ["b2", true],
    ]);
    await wss.close();
  });

  it("the server sends a Blob, calls back once written, and keeps later sends behind it", async () => {
    const { wss, url } = await listen();
    const written = new Promise<Error | undefined>((resolve) =>
      wss.on("connection", (peer) => {
        peer.send(new Blob(["from a blob"]), (error) => resolve(error));
        peer.send("after");
      }),
    );
    const ws = new host.WebSocket(url);
    const messages: unknown[] = [];
    const two = new Promise<void>((resolve) =>
      ws.addEventListener("message", (e) => {
        messages.push((e as MessageEvent).data);
        if (messages.length === 2) resolve();
      }),
    );
    await within(two, 5000, "two messages");
    expect(await written).toBeUndefined();
    expect(Buffer.from(messages[0] as Uint8Array).toString()).toBe("from a blob");
    expect(messages[1]).toBe("after");
    const closed = nextEvent(ws, "close");
    ws.close();
    await closed;
    await wss.close();
  });
});
