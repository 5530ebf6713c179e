// Pub/sub on permessage-deflate connections, on Node and Bun alike: a published (or broadcast) message is
// compressed alone, once per compressor setting, framed once with RSV1 and sent to every subscriber with that
// setting, whether it negotiated context takeover or not; subscribers without deflate get the plain frame.
// Raw peers read the wire (RSV1, the compressed bytes, inflated with the window a real peer keeps); our
// client checks order against the connection's own sends, short and long (compressed off the event loop).
import * as zlib from "node:zlib";
import { openDeflateStreams, waitingDeflates } from "../../../runtimes/node/deflate.js";
import { jsonText } from "../../support/json-text.js";
import { RawClient, type RawFrame } from "../../support/raw-client.js";
import {
  describe,
  expect,
  it,
  listen,
  openClient,
  runtime,
  type ServerConnection,
  type WebSocket,
  type WebSocketServer,
} from "./harness.js";
import { waitFor as until } from "../../support/client-events.js";

const Opcode = { Text: 1, Binary: 2 };
const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

/** Offers: no context takeover asked, Chromium's and ws's offer (context takeover), a smaller window, none. */
const NO_CONTEXT = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
const CHROMIUM = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
const SMALL_WINDOW =
  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n";

/**
 * A raw peer that inflates as a real one does: one window across messages (context takeover) or none, and
 * records each message's first frame as it came.
 */
class Peer {
  readonly raw: RawClient;
  private readonly contextTakeover: boolean;
  private window = Buffer.alloc(0);

  constructor(raw: RawClient, contextTakeover: boolean) {
    this.raw = raw;
    this.contextTakeover = contextTakeover;
  }

  static async open(port: number, offer: string, contextTakeover: boolean): Promise<Peer> {
    return new Peer(await RawClient.open(port, "/?t=room", offer), contextTakeover);
  }

  /** The next message: its frame as sent, and its payload inflated when RSV1 is set. */
  async next(): Promise<{ frame: RawFrame; data: Buffer }> {
    const frame = await this.raw.readFrame(20_000);
    expect(frame.fin).toBe(true);
    if (frame.rsv !== 4) return { frame, data: frame.payload };
    const data = zlib.inflateRawSync(Buffer.concat([frame.payload, TAIL]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      ...(this.contextTakeover && this.window.length > 0 ? { dictionary: this.window } : {}),
    });
    if (this.contextTakeover) this.window = Buffer.concat([this.window, data]).subarray(-32768);
    return { frame, data };
  }
}

/** A server whose connections subscribe to the topics in their URL's `?t=a,b`. */
async function topicServer(options: Parameters<typeof listen>[0] = {}) {
  const server = await listen(options);
  server.wss.on("connection", (ws, req) => {
    const url = new URL((req as { url: string }).url, "http://x");
    for (const topic of (url.searchParams.get("t") ?? "").split(",").filter(Boolean)) ws.subscribe(topic);
  });
  return server;
}

/** The server's connections in the order they were accepted. */
function connections(wss: WebSocketServer): ServerConnection[] {
  return [...wss.clients] as unknown as ServerConnection[];
}

/** Collect a client's messages as strings (binary as `bin:<length>:<first byte>`). */
function collect(ws: WebSocket): string[] {
  const got: string[] = [];
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (e) => {
    const data = (e as MessageEvent).data;
    if (typeof data === "string") return got.push(data);
    const bytes = new Uint8Array(data as ArrayBuffer);
    got.push(`bin:${bytes.length}:${bytes[0]}`);
  });
  return got;
}

describe(`pub/sub on permessage-deflate connections (${runtime})`, () => {
  it("compresses a publish once per setting, RSV1 on the wire, the exact bytes for every kind of subscriber", async () => {
    const { wss, port } = await topicServer({ perMessageDeflate: true });
    const alone = await Peer.open(port, NO_CONTEXT, false);
    const alone2 = await Peer.open(port, NO_CONTEXT, false);
    const takeover = await Peer.open(port, CHROMIUM, true);
    const small = await Peer.open(port, SMALL_WINDOW, false);
    const plain = new Peer(await RawClient.open(port, "/?t=room"), false);
    await until(() => wss.clients.size === 5, "5 connections");
    const [, , takeoverConn] = connections(wss);
    expect(takeoverConn.extensions).toMatch(/^permessage-deflate/);
    expect(takeoverConn.extensions).not.toMatch(/server_no_context_takeover/);
    // The context-takeover peer's window holds a message first: a copy compressed for it with its history
    // would refer to that message; the shared one refers to nothing before it.
    const text = jsonText(8192, 3);
    takeoverConn.send(text);
    const first = await takeover.next();
    expect([first.frame.rsv, first.data.toString()]).toEqual([4, text]);

    const bytes = Buffer.from(jsonText(5000, 9));
    expect(wss.publish("room", text)).toBe(5);
    expect(wss.publish("room", bytes)).toBe(5);
    wss.broadcast(text.slice(0, 100)); // below the threshold (1024): plain for everyone
    const got = new Map<Peer, Array<{ frame: RawFrame; data: Buffer }>>();
    for (const peer of [alone, alone2, takeover, small, plain])
      got.set(peer, [await peer.next(), await peer.next(), await peer.next()]);
    for (const [peer, [t, b, s]] of got) {
      const compressed = peer === plain ? 0 : 4;
      expect([t.frame.opcode, t.frame.rsv, t.data.toString()]).toEqual([Opcode.Text, compressed, text]);
      expect([b.frame.opcode, b.frame.rsv, b.data.equals(bytes)]).toEqual([Opcode.Binary, compressed, true]);
      expect([s.frame.opcode, s.frame.rsv, s.data.toString()]).toEqual([Opcode.Text, 0, text.slice(0, 100)]);
      if (compressed) expect(t.frame.payload.length).toBeLessThan(text.length / 3);
    }
    // One compression for the window-15 group: the same bytes, which inflate without any dictionary even
    // for the context-takeover peer; the window-10 peer has its own.
    const [tAlone, bAlone] = got.get(alone)!;
    for (const peer of [alone2, takeover]) {
      expect(got.get(peer)![0].frame.payload.equals(tAlone.frame.payload)).toBe(true);
      expect(got.get(peer)![1].frame.payload.equals(bAlone.frame.payload)).toBe(true);
    }
    const inflatedAlone = zlib.inflateRawSync(Buffer.concat([got.get(takeover)![0].frame.payload, TAIL]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(inflatedAlone.toString()).toBe(text);
    expect(got.get(small)![0].frame.payload.equals(tAlone.frame.payload)).toBe(false);
    for (const peer of [alone, alone2, takeover, small, plain]) peer.raw.destroy();
    await wss.close();
  });

  it("compress: false sends a publish, a connection's publish and a broadcast uncompressed to deflate subscribers", async () => {
    const { wss, port } = await topicServer({ perMessageDeflate: true });
    const alone = await Peer.open(port, NO_CONTEXT, false);
    const takeover = await Peer.open(port, CHROMIUM, true);
    await until(() => wss.clients.size === 2, "2 connections");
    const [aloneConn] = connections(wss);
    const text = jsonText(4096, 5);
    expect(wss.publish("room", text, { compress: false })).toBe(2);
    expect(aloneConn.publish("room", Buffer.from(text), { compress: false })).toBe(1);
    wss.broadcast(text, { compress: false });
    wss.publish("room", text); // the default still compresses
    const takeoverGot = [
      await takeover.next(),
      await takeover.next(),
      await takeover.next(),
      await takeover.next(),
    ];
    const aloneGot = [await alone.next(), await alone.next(), await alone.next()];
    expect(takeoverGot.map((m) => [m.frame.opcode, m.frame.rsv, m.data.toString()])).toEqual([
      [Opcode.Text, 0, text],
      [Opcode.Binary, 0, text],
      [Opcode.Text, 0, text],
      [Opcode.Text, 4, text],
    ]);
    expect(aloneGot.map((m) => [m.frame.opcode, m.frame.rsv, m.data.toString()])).toEqual([
      [Opcode.Text, 0, text],
      [Opcode.Text, 0, text],
      [Opcode.Text, 4, text],
    ]);
    for (const peer of [alone, takeover]) peer.raw.destroy();
    await wss.close();
  });

  it("a context-takeover subscriber's own compressed sends after a publish refer to it correctly", async () => {
    const { wss, port } = await topicServer({ perMessageDeflate: true });
    const takeover = await Peer.open(port, CHROMIUM, true);
    await until(() => wss.clients.size === 1, "the connection");
    const [conn] = connections(wss);
    // Each own message repeats the published ones before it: the compressor's history must hold the
    // publishes (as the peer's window does), or its back-references point at the wrong bytes. One to three
    // publishes between own messages, shorter and longer than the history (4096 bytes) together.
    const texts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const published = Array.from({ length: 1 + (i % 3) }, (_, k) =>
        jsonText(1200 + i * 400 + k * 700, i + k),
      );
      for (const text of published) wss.publish("room", text);
      const own = `own ${i}: ${published.map((text) => text.slice(0, 1500)).join("|")}`;
      conn.send(own);
      texts.push(...published, own);
    }
    for (const expected of texts) {
      const { frame, data } = await takeover.next();
      expect(frame.rsv).toBe(4);
      expect(data.toString()).toBe(expected);
    }
    takeover.raw.destroy();
    await wss.close();
  });

  it("keeps order with each connection's own sends, short and long, for mixed subscribers", async () => {
    const { wss, url } = await topicServer({ perMessageDeflate: true });
    const clients = [
      await openClient(`${url}/?t=room`, undefined, { perMessageDeflate: { serverNoContextTakeover: true } }),
      await openClient(`${url}/?t=room`, undefined, { perMessageDeflate: true }),
      await openClient(`${url}/?t=room`, undefined, { perMessageDeflate: false }),
    ];
    const got = clients.map(collect);
    await until(() => wss.clients.size === 3, "3 connections");
    const conns = connections(wss);
    expect(conns.map((c) => c.extensions)).toEqual([
      "permessage-deflate; server_no_context_takeover",
      "permessage-deflate",
      "",
    ]);
    // Sizes across the threshold and past 64 KiB (compressed on zlib's thread pool, own and published): an
    // own long send is compressing when the publish comes, and a long publish is when the next own send does.
    const sizes = [10, 2000, 70_000, 1 << 20, 3000, 200_000, 50];
    const expected: string[][] = conns.map(() => []);
    sizes.forEach((size, step) => {
      conns.forEach((conn, i) => {
        const own = `own ${step} ${i} ${jsonText(size >> 1, step)}`;
        conn.send(own);
        expected[i].push(own);
      });
      const published = `pub ${step} ${jsonText(size, step)}`;
      expect(wss.publish("room", published)).toBe(3);
      const binary = Buffer.alloc(size, step + 1);
      wss.broadcast(binary);
      for (const list of expected) list.push(published, `bin:${size}:${step + 1}`);
    });
    const total = expected[0].length;
    await until(() => got.every((list) => list.length >= total), "every message", 30_000).catch((e) => {
      console.log(got.map((l, i) => [l.length, l.findIndex((m, k) => m !== expected[i][k])]));
      console.log(got.map((l) => l.map((m) => m.slice(0, 12))));
      throw e;
    });
    for (let i = 0; i < clients.length; i++) {
      expect(got[i].length).toBe(total);
      for (let k = 0; k < total; k++) if (got[i][k] !== expected[i][k]) expect([i, k, got[i][k]]).toBe(null);
    }
    for (const ws of clients) ws.close();
    await wss.close();
  }, 60_000);

  it("a publish from a message handler, long and short, in order with the handler's own reply", async () => {
    const { wss, url } = await listen({ perMessageDeflate: true });
    wss.on("connection", (ws) => {
      ws.subscribe("room");
      ws.on("message", (data) => {
        const text = String(data);
        ws.publish("room", text);
        ws.send(`sent ${text.length}`);
      });
    });
    const sender = await openClient(url, undefined, { perMessageDeflate: true });
    const others = [
      await openClient(url, undefined, { perMessageDeflate: { serverNoContextTakeover: true } }),
      await openClient(url, undefined, { perMessageDeflate: true }),
    ];
    const { port } = new URL(url);
    const raw = await Peer.open(Number(port), CHROMIUM, true);
    const [mine, ...theirs] = [sender, ...others].map(collect);
    await until(() => wss.clients.size === 4, "4 connections");
    const texts = [jsonText(300, 1), jsonText(5000, 2), jsonText(100_000, 3), jsonText(2000, 4)];
    for (const text of texts) sender.send(text);
    await until(() => mine.length === texts.length && theirs.every((g) => g.length === texts.length), "all");
    expect(mine).toEqual(texts.map((t) => `sent ${t.length}`));
    for (const list of theirs) expect(list).toEqual(texts);
    for (const text of texts) {
      const { frame, data } = await raw.next();
      expect([frame.rsv, data.toString()]).toEqual([text.length < 1024 ? 0 : 4, text]);
    }
    raw.raw.destroy();
    for (const ws of [sender, ...others]) ws.close();
    await wss.close();
  }, 30_000);

  it("a publish while the connection sends a message in pieces goes after its last piece", async () => {
    const { wss, port } = await topicServer({ perMessageDeflate: true });
    const alone = await Peer.open(port, NO_CONTEXT, false);
    const plain = new Peer(await RawClient.open(port, "/?t=room"), false);
    await until(() => wss.clients.size === 2, "2 connections");
    const published = jsonText(4000, 5);
    for (const conn of connections(wss)) conn.send("first piece, ", { fin: false });
    wss.publish("room", published);
    for (const conn of connections(wss)) conn.send("last piece", { fin: true });
    for (const peer of [alone, plain]) {
      const one = await peer.raw.readFrame();
      const two = await peer.raw.readFrame();
      expect([one.opcode, one.fin, two.opcode, two.fin]).toEqual([Opcode.Text, false, 0, true]);
      expect(Buffer.concat([one.payload, two.payload]).toString()).toBe("first piece, last piece");
      const next = await peer.next();
      expect([next.frame.rsv, next.data.toString()]).toEqual([peer === alone ? 4 : 0, published]);
    }
    for (const peer of [alone, plain]) peer.raw.destroy();
    await wss.close();
  });

  it("compresses a long publish once off the event loop, and stops when its subscribers go first", async () => {
    const { wss, port } = await topicServer({ perMessageDeflate: true });
    const peers = [
      await Peer.open(port, NO_CONTEXT, false),
      await Peer.open(port, NO_CONTEXT, false),
      await Peer.open(port, CHROMIUM, true),
    ];
    await until(() => wss.clients.size === 3, "3 connections");
    await until(() => openDeflateStreams() === 0 && waitingDeflates() === 0, "earlier compressions done");
    let open = 3;
    for (const conn of connections(wss)) conn.once("close", () => open--);
    // Three publishes for three subscribers of one setting: three compressions, not nine. Two run at a time
    // (the codec's turns), so one waits.
    for (let i = 0; i < 3; i++) expect(wss.publish("room", new Uint8Array(16 << 20))).toBe(3);
    expect(openDeflateStreams()).toBe(2);
    expect(waitingDeflates()).toBe(1);
    // Every subscriber gone: no one wants them, so they stop (the waiting one at once).
    for (const conn of connections(wss)) conn.terminate();
    expect(waitingDeflates()).toBe(0);
    await until(() => open === 0, "all closed");
    await until(() => openDeflateStreams() === 0, "no zlib stream open");
    for (const peer of peers) peer.raw.destroy();
    await wss.close();
  });
});
