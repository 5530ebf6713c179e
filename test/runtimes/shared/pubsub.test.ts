// Pub/sub topics on Node and Bun alike: subscribe, publish (framed once), except, counts, automatic
// unsubscribe on close, order, slow subscribers, and servers linked by a shared in-process adapter.
import { closePayload, frame, RawClient, within } from "../../support/raw-client.js";
import {
  describe,
  expect,
  host,
  it,
  listen,
  openClient,
  runtime,
  type ServerConnection,
  type WebSocket,
  type WebSocketServer,
} from "./harness.js";
import { waitFor as until } from "../../support/client-events.js";

/** A server whose connections subscribe to the topics in their URL's `?t=a,b` and echo-publish. */
async function topicServer(options: Parameters<typeof listen>[0] = {}) {
  const server = await listen(options);
  const byPath = new Map<string, ServerConnection>();
  server.wss.on("connection", (ws, req) => {
    const url = new URL((req as { url: string }).url, "http://x");
    for (const topic of (url.searchParams.get("t") ?? "").split(",").filter(Boolean)) ws.subscribe(topic);
    byPath.set(url.searchParams.get("name") ?? "", ws);
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? null : String(data);
      if (text?.startsWith("pub:")) {
        const [, topic, body] = text.split(":");
        ws.publish(topic, body);
      }
    });
  });
  return { ...server, byPath };
}

/** Collect a client's messages as strings (binary as `bin:<hex>`). */
function collect(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (e) => {
    const data = (e as MessageEvent).data;
    got.push(typeof data === "string" ? data : `bin:${Buffer.from(data as ArrayBuffer).toString("hex")}`);
  });
  return got;
}

/** Wait until the server has `n` connections. */
function connected(wss: WebSocketServer, n: number): Promise<void> {
  return until(() => wss.clients.size === n, `${n} connections`);
}

describe(`pub/sub topics (${runtime})`, () => {
  it("publish reaches every subscriber of the topic once, and no one else", async () => {
    const { wss, url } = await topicServer();
    const a = await openClient(`${url}/?t=news,sport`);
    const b = await openClient(`${url}/?t=news`);
    const c = await openClient(`${url}/?t=sport`);
    const d = await openClient(`${url}/`);
    const [ga, gb, gc, gd] = [a, b, c, d].map(collect);
    await connected(wss, 4);
    expect(wss.subscriberCount("news")).toBe(2);
    expect(wss.subscriberCount("sport")).toBe(2);
    expect(wss.subscriberCount("weather")).toBe(0);
    expect(wss.publish("news", "n1")).toBe(2);
    expect(wss.publish("sport", new Uint8Array([1, 2, 3]))).toBe(2);
    expect(wss.publish("weather", "nobody")).toBe(0);
    expect(wss.publish("news", "n2", { binary: true })).toBe(2);
    await until(() => ga.length === 3 && gb.length === 2 && gc.length === 1, "deliveries");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ga).toEqual(["n1", "bin:010203", `bin:${Buffer.from("n2").toString("hex")}`]);
    expect(gb).toEqual(["n1", `bin:${Buffer.from("n2").toString("hex")}`]);
    expect(gc).toEqual(["bin:010203"]);
    expect(gd).toEqual([]);
    for (const ws of [a, b, c, d]) ws.close();
    await wss.close();
  });

  it("ws.publish reaches the other subscribers, not the publisher; except skips connections", async () => {
    const { wss, url, byPath } = await topicServer();
    const a = await openClient(`${url}/?t=room&name=a`);
    const b = await openClient(`${url}/?t=room&name=b`);
    const c = await openClient(`${url}/?t=room&name=c`);
    const [ga, gb, gc] = [a, b, c].map(collect);
    await connected(wss, 3);
    a.send("pub:room:hello");
    await until(() => gb.length === 1 && gc.length === 1, "ws.publish");
    expect(wss.publish("room", "not to b", { except: byPath.get("b") })).toBe(2);
    expect(wss.publish("room", "only c", { except: [byPath.get("a")!, byPath.get("b")!] })).toBe(1);
    await until(() => ga.length === 1 && gc.length === 3, "except");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ga).toEqual(["not to b"]);
    expect(gb).toEqual(["hello"]);
    expect(gc).toEqual(["hello", "not to b", "only c"]);
    for (const ws of [a, b, c]) ws.close();
    await wss.close();
  });

  it("subscribe, unsubscribe, isSubscribed and topics; close unsubscribes", async () => {
    const { wss, url } = await listen();
    const accepted = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
    const client = await openClient(url);
    const got = collect(client);
    const ws = await accepted;
    expect(ws.subscribe("a")).toBe(true);
    expect(ws.subscribe("a")).toBe(false);
    expect(ws.subscribe("b")).toBe(true);
    expect(ws.isSubscribed("a")).toBe(true);
    expect(ws.isSubscribed("c")).toBe(false);
    expect(ws.topics.sort()).toEqual(["a", "b"]);
    expect(ws.subscriptions.sort()).toEqual(["a", "b"]);
    expect(ws.unsubscribe("a")).toBe(true);
    expect(ws.unsubscribe("a")).toBe(false);
    expect(ws.isSubscribed("a")).toBe(false);
    expect(wss.subscriberCount("a")).toBe(0);
    expect(wss.publish("a", "after unsubscribe")).toBe(0);
    expect(wss.publish("b", "still b")).toBe(1);
    await until(() => got.length === 1, "b");
    expect(got).toEqual(["still b"]);
    expect(() => ws.subscribe("" as string)).toThrow(TypeError);
    expect(() => wss.publish(42 as unknown as string, "x")).toThrow(/topic must be a non-empty string/);
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    client.close();
    await closed;
    expect(wss.subscriberCount("b")).toBe(0);
    expect(ws.topics).toEqual([]);
    expect(ws.subscribe("b")).toBe(false);
    expect(wss.publish("b", "gone")).toBe(0);
    await wss.close();
  });

  it("a subscriber receives a topic's messages in publish order, framed per the RFC at every size", async () => {
    const { wss, port } = await topicServer();
    const raw = await RawClient.open(port, "/?t=seq");
    await connected(wss, 1);
    const sizes = [0, 1, 125, 126, 65535, 65536, 70000];
    for (const size of sizes) wss.publish("seq", new Uint8Array(size).fill(size & 0xff));
    for (let i = 0; i < 500; i++) wss.publish("seq", `m${i}`);
    for (const size of sizes) {
      const frame = await raw.readFrame();
      expect(frame).toMatchObject({ fin: true, rsv: 0, opcode: 2, masked: false });
      expect(frame.payload.length).toBe(size);
      expect(frame.payload.every((byte) => byte === (size & 0xff))).toBe(true);
    }
    for (let i = 0; i < 500; i++) {
      const frame = await raw.readFrame();
      expect(frame.opcode).toBe(1);
      expect(frame.payload.toString()).toBe(`m${i}`);
    }
    raw.destroy();
    await wss.close();
  });

  it("a tick of publishes of 10 B to 70 KB reaches a subscriber that reads late exact and in order", async () => {
    // Past the kernel's buffers while the late one does not read: on Bun the socket takes part of a write
    // (each tick's frames gathered into one shared buffer) and the rest follows from the frames on drain.
    const { wss, port } = await topicServer({ maxBufferedAmount: 64 * 1024 * 1024 });
    const late = await RawClient.open(port, "/?t=mix");
    late.socket.pause();
    const prompt = await RawClient.open(port, "/?t=mix");
    await connected(wss, 2);
    const sizes = [1536, 2048, 10, 4096, 16_384, 1000, 70_000, 1025];
    const payload = (i: number) => {
      const bytes = new Uint8Array(sizes[i % sizes.length]);
      for (let k = 0; k < bytes.length; k++) bytes[k] = (i * 31 + k) & 0xff;
      return bytes;
    };
    const count = 1000;
    for (let i = 0; i < count; i++) wss.publish("mix", payload(i));
    await new Promise((resolve) => setTimeout(resolve, 100));
    late.socket.resume();
    for (const raw of [prompt, late])
      for (let i = 0; i < count; i++) {
        const frame = await raw.readFrame();
        expect(frame).toMatchObject({ fin: true, rsv: 0, opcode: 2, masked: false });
        expect(Buffer.from(frame.payload).equals(payload(i)), `message ${i}`).toBe(true);
      }
    late.destroy();
    prompt.destroy();
    await wss.close();
  });

  it("a subscriber that does not read is closed with 1008 past maxBufferedAmount; the others go on", async () => {
    const { wss, port, url, byPath } = await topicServer({
      maxBufferedAmount: 2 * 1024 * 1024,
      closeTimeout: 200,
    });
    const slow = await RawClient.open(port, "/?t=firehose&name=slow");
    slow.socket.pause();
    const fast = await openClient(`${url}/?t=firehose`);
    let received = 0;
    fast.addEventListener("message", () => received++);
    await connected(wss, 2);
    const slowWs = byPath.get("slow")!;
    const failure = new Promise<Error>((resolve) => slowWs.once("error", resolve));
    const slowClosed = new Promise<boolean>((resolve) => slowWs.once("close", () => resolve(true)));
    const chunk = new Uint8Array(256 * 1024);
    let published = 0;
    // The kernel's buffers take a few MiB first; the queue then passes the limit.
    for (let round = 0; round < 400 && wss.subscriberCount("firehose") === 2; round++) {
      wss.publish("firehose", chunk);
      published++;
      if (round % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await within(failure, 5000, "slow subscriber failed")).message).toMatch(/closing with 1008/);
    expect(await within(slowClosed, 5000, "slow subscriber closed")).toBe(true);
    expect(wss.subscriberCount("firehose")).toBe(1);
    await until(() => received === published, "fast subscriber got everything", 10_000);
    slow.destroy();
    fast.close();
    await wss.close();
  });

  it('with slowSubscriber "drop", a subscriber that does not read misses messages but stays open', async () => {
    const { wss, port, url } = await topicServer({
      maxBufferedAmount: 2 * 1024 * 1024,
      slowSubscriber: "drop",
    });
    const slow = await RawClient.open(port, "/?t=firehose");
    slow.socket.pause();
    const fast = await openClient(`${url}/?t=firehose`);
    let received = 0;
    fast.addEventListener("message", () => received++);
    await connected(wss, 2);
    const chunk = new Uint8Array(256 * 1024);
    const counts: number[] = [];
    for (let round = 0; round < 200; round++) {
      counts.push(wss.publish("firehose", chunk));
      if (round % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The slow one was skipped for some messages (1 recipient), never closed.
    expect(counts.filter((n) => n === 1).length).toBeGreaterThan(0);
    expect(wss.subscriberCount("firehose")).toBe(2);
    await until(() => received === 200, "fast subscriber got everything", 10_000);
    slow.destroy();
    fast.close();
    await wss.close();
  });

  it("servers sharing an InProcessAdapter share topics and broadcasts; a filtered broadcast stays local", async () => {
    const adapter = new host.InProcessAdapter();
    const one = await topicServer({ adapter });
    const two = await topicServer({ adapter });
    const a = await openClient(`${one.url}/?t=t`);
    const b = await openClient(`${two.url}/?t=t`);
    const c = await openClient(`${two.url}/`);
    const [ga, gb, gc] = [a, b, c].map(collect);
    await connected(one.wss, 1);
    await connected(two.wss, 2);
    expect(one.wss.publish("t", "from one")).toBe(1);
    a.send("pub:t:from a");
    await until(() => ga.length === 1 && gb.length === 2, "cross-server publish");
    one.wss.broadcast("to all");
    one.wss.broadcast("filtered", { filter: () => true });
    two.wss.broadcast("from two", { except: [...two.wss.clients] });
    await until(() => ga.length === 4 && gb.length === 3 && gc.length === 1, "broadcasts");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ga).toEqual(["from one", "to all", "filtered", "from two"]);
    expect(gb).toEqual(["from one", "from a", "to all"]);
    expect(gc).toEqual(["to all"]);
    for (const ws of [a, b, c]) ws.close();
    await Promise.all([one.wss.close(), two.wss.close()]);
  });
  it("a handler that publishes or broadcasts 64 KiB and 1 MiB leaves the rest of the same read intact", async () => {
    const { wss, port } = await listen();
    const echoed: string[] = [];
    const closes: number[] = [];
    wss.on("connection", (ws) => {
      ws.subscribe("big");
      ws.on("close", (code) => closes.push(code));
      ws.on("message", (data) => {
        const text = String(data);
        if (text === "pub") wss.publish("big", new Uint8Array(64 * 1024).fill(7));
        else if (text === "bcast") wss.broadcast(new Uint8Array(1 << 20).fill(9));
        else echoed.push(text);
      });
    });
    for (const [trigger, closeFirst] of [
      ["pub", false],
      ["bcast", false],
      ["pub", true],
      ["bcast", true],
    ] as Array<[string, boolean]>) {
      const raw = await RawClient.open(port);
      // Every frame after the first (the close frame alone, the second time) sits in the same read, unparsed while the first one's handler runs;
      // the close frame waits in the engine until the messages before it are handled.
      const rest = closeFirst ? [] : [frame(1, "x"), frame(1, `after ${trigger}`), frame(1, "y".repeat(300))];
      raw.write(Buffer.concat([frame(1, trigger), ...rest, frame(8, closePayload(4321, "bye"))]));
      const published = await raw.readFrame();
      expect(published.payload.length).toBe(trigger === "pub" ? 64 * 1024 : 1 << 20);
      const reply = await raw.readFrame();
      expect([reply.opcode, reply.payload.readUInt16BE(0)]).toEqual([8, 4321]);
      raw.destroy();
    }
    await until(() => closes.length === 4, "every close event");
    expect(closes).toEqual([4321, 4321, 4321, 4321]);
    expect(echoed).toEqual(["x", "after pub", "y".repeat(300), "x", "after bcast", "y".repeat(300)]);
    await wss.close();
  });
});
