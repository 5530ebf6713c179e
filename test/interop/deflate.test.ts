// permessage-deflate interop over real sockets: ws (perMessageDeflate on) both directions with every
// parameter combination it supports, and a decompression bomb against our server.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS, { WebSocketServer as WSServer } from "ws";
import type { PerMessageDeflateOptions } from "../../bindings/protocol/extensions.js";
import { WebSocket, type ServerConnection } from "../../runtimes/node/index.js";
import { jsonText } from "../support/json-text.js";
import { echoServer, frame, nextEvent, nextMessage, openClient, RawClient } from "../runtimes/node/peers.js";
import { statusOf, upgradeRequest } from "../support/raw-client.js";

function noise(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Messages every combination exchanges: below/above the threshold, text and binary, up to 1 MiB. */
const MESSAGES: Array<string | Buffer> = [
  "",
  "short",
  jsonText(1024, 1),
  jsonText(1024, 2),
  "é".repeat(3000),
  jsonText(65536, 3),
  noise(70_000, 4),
  Buffer.from(jsonText(1 << 20, 5)),
  jsonText(5000, 6),
];

/** The parameter combinations ws supports (as its options; ours take the same names). */
const COMBOS: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: true },
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 9 },
  { serverMaxWindowBits: 12 },
  { clientMaxWindowBits: 9 },
  { clientMaxWindowBits: 11 },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 10, serverNoContextTakeover: true },
  { serverMaxWindowBits: 15, clientMaxWindowBits: 15, clientNoContextTakeover: true },
];

const same = (a: unknown, b: string | Buffer) =>
  typeof b === "string" ? a === b : Buffer.isBuffer(a) && a.equals(b);

describe("ws clients as subscribers of our server's publishes, perMessageDeflate", () => {
  it("every offer ws makes gets the published messages, compressed once, in order with the connection's own sends", async () => {
    const { wss, port } = await echoServer({ perMessageDeflate: true });
    wss.on("connection", (conn) => conn.subscribe("room"));
    const offers: Array<PerMessageDeflateOptions | false> = [
      {}, // ws's default offer: client_max_window_bits, context takeover
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true },
      { serverMaxWindowBits: 10 },
      false,
    ];
    const clients = offers.map(
      (perMessageDeflate) => new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate }),
    );
    const got = clients.map((ws) => {
      const list: Array<string | Buffer> = [];
      ws.on("message", (data: Buffer, isBinary: boolean) => list.push(isBinary ? data : data.toString()));
      return list;
    });
    await Promise.all(clients.map((ws) => once(ws, "open")));
    const conns = [...wss.clients] as ServerConnection[];
    expect(conns.map((c) => c.extensions === "")).toEqual([false, false, false, false, true]);
    // Each published message, then an own message on every connection that repeats part of it (a
    // context-takeover compressor refers back into it).
    const expected: Array<string | Buffer> = [];
    const own = (i: number, message: string | Buffer) =>
      `own ${i}: ${(typeof message === "string" ? message : message.toString("latin1")).slice(0, 3000)}`;
    MESSAGES.forEach((message, i) => {
      expect(wss.publish("room", message)).toBe(clients.length);
      for (const conn of conns) conn.send(own(i, message));
      expected.push(message, own(i, message));
    });
    const deadline = Date.now() + 20_000;
    while (got.some((list) => list.length < expected.length) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const list of got) {
      expect(list.length).toBe(expected.length);
      list.forEach((message, k) => expect(same(message, expected[k] as string | Buffer)).toBe(true));
    }
    // Compressed on the wire to every deflate subscriber: far fewer bytes than the ~1.2 MiB of payloads.
    for (const conn of conns.slice(0, 4)) expect(conn.socket.bytesWritten).toBeLessThan(500_000);
    expect(conns[4].socket.bytesWritten).toBeGreaterThan(1_200_000);
    for (const ws of clients) ws.close();
    await Promise.all(clients.map((ws) => once(ws, "close")));
    await wss.close();
  }, 30_000);
});

describe("ws client ↔ our server, perMessageDeflate on both", () => {
  for (const options of COMBOS)
    it(`echoes compressed messages, ${JSON.stringify(options)} on both ends`, async () => {
      const { wss, port } = await echoServer({ perMessageDeflate: { ...options, threshold: 0 } });
      const ws = new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: { ...options, threshold: 0 } });
      await once(ws, "open");
      expect(ws.extensions).toContain("permessage-deflate");
      const [conn] = [...wss.clients] as ServerConnection[];
      expect(conn.extensions).toMatch(/^permessage-deflate/);
      for (const message of MESSAGES) {
        const back = once(ws, "message");
        ws.send(message);
        const [data, isBinary] = (await back) as [Buffer, boolean];
        expect(isBinary).toBe(typeof message !== "string");
        expect(same(isBinary ? data : data.toString(), message)).toBe(true);
      }
      // Compressed on the wire in both directions: far fewer bytes than the ~1.2 MiB of payloads.
      expect(conn.socket.bytesRead).toBeLessThan(400_000);
      expect(conn.socket.bytesWritten).toBeLessThan(400_000);
      ws.close();
      await once(ws, "close");
      await wss.close();
    });

  it("ws sends a fragmented compressed message (RSV1 on the first frame only)", async () => {
    const { wss, port } = await echoServer({ perMessageDeflate: true });
    const ws = new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: { threshold: 0 } });
    await once(ws, "open");
    const back = once(ws, "message");
    ws.send(jsonText(3000, 1), { fin: false, compress: true });
    ws.send(jsonText(3000, 2), { fin: false, compress: true });
    ws.send(jsonText(3000, 3), { fin: true, compress: true });
    const [data] = (await back) as [Buffer];
    expect(data.toString()).toBe(jsonText(3000, 1) + jsonText(3000, 2) + jsonText(3000, 3));
    ws.close();
    await wss.close();
  });

  it("declines deflate when off (the default); refuses with 400 (as ws) when the only offer is invalid", async () => {
    const { wss, port } = await echoServer();
    const ws = new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: true });
    await once(ws, "open");
    expect(ws.extensions).toBe("");
    ws.close();
    await wss.close();
    const on = await echoServer({ perMessageDeflate: true });
    const offer = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n";
    expect(await statusOf(on.port, upgradeRequest(on.port, "/", offer))).toBe(400);
    const raw = await RawClient.open(on.port, "/", offer.replace("\r\n", ", permessage-deflate\r\n"));
    raw.write(frame(0x1, "plain"));
    const echoed = await raw.readFrame();
    expect(echoed.payload.toString()).toBe("plain");
    raw.destroy();
    await on.wss.close();
  });
});

describe("our client ↔ ws server, perMessageDeflate on both", () => {
  let server: WSServer;
  let port: number;
  let serverOptions: PerMessageDeflateOptions = {};

  beforeAll(async () => {
    // ws reads its perMessageDeflate options per connection from this object.
    server = new WSServer({
      port: 0,
      host: "127.0.0.1",
      maxPayload: 64 << 20,
      perMessageDeflate: new Proxy({} as PerMessageDeflateOptions, {
        get: (_, key) => (key === "threshold" ? 0 : serverOptions[key as keyof PerMessageDeflateOptions]),
      }),
    });
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
    server.on("connection", (ws) =>
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })),
    );
  });
  afterAll(async () => {
    for (const ws of server.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const options of COMBOS)
    it(`echoes compressed messages, ${JSON.stringify(options)} on both ends`, async () => {
      serverOptions = options;
      const ws = await openClient(`ws://127.0.0.1:${port}`, undefined, {
        perMessageDeflate: { ...options, threshold: 0 },
      });
      expect(ws.extensions).toContain("permessage-deflate");
      ws.binaryType = "nodebuffer";
      for (const message of MESSAGES) {
        const back = nextMessage(ws);
        ws.send(message);
        expect(same(await back, message)).toBe(true);
      }
      ws.close();
      await nextEvent(ws, "close");
    });

  it("offers deflate by default, as ws's client does, and connects without it when told not to", async () => {
    serverOptions = {};
    const offered = await openClient(`ws://127.0.0.1:${port}`);
    expect(offered.extensions).toContain("permessage-deflate");
    offered.close();
    const plain = await openClient(`ws://127.0.0.1:${port}`, undefined, { perMessageDeflate: false });
    expect(plain.extensions).toBe("");
    plain.close();
  });
});

describe("ws's option names", () => {
  it("zlibDeflateOptions.level reaches our compressor: level 0 sends stored blocks, the default compresses", async () => {
    const sizes: number[] = [];
    for (const perMessageDeflate of [{ threshold: 0, zlibDeflateOptions: { level: 0 } }, { threshold: 0 }]) {
      const { wss, port } = await echoServer({ perMessageDeflate });
      wss.on("connection", (ws) => ws.send(Buffer.alloc(4096)));
      const raw = await RawClient.open(port, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
      const message = await raw.readFrame();
      expect([message.opcode, message.rsv]).toEqual([0x2, 4]);
      const inflated = zlib.inflateRawSync(
        Buffer.concat([message.payload, Buffer.from([0, 0, 0xff, 0xff])]),
        {
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        },
      );
      expect(inflated.equals(Buffer.alloc(4096))).toBe(true);
      sizes.push(message.payload.length);
      raw.destroy();
      await wss.close();
    }
    // Stored: the 4096 bytes plus block headers. Compressed: a few bytes for 4096 zeros.
    expect(sizes[0]).toBeGreaterThan(4096);
    expect(sizes[1]).toBeLessThan(100);
  });
});

describe("decompression bomb over a real socket", () => {
  it("256 KiB that inflate to 256 MiB: our server closes with 1009 and its memory stays bounded", async () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(256 << 20), {
      level: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const { wss, port } = await echoServer({ perMessageDeflate: true, maxPayload: 1 << 20 });
    const errors: Error[] = [];
    wss.on("connection", (ws) => ws.on("error", (error) => errors.push(error)));
    const raw = await RawClient.open(port, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    const before = process.memoryUsage().arrayBuffers;
    raw.write(frame(0x2, bomb.subarray(0, bomb.length - 4), { rsv: 4 }));
    const close = await raw.readFrame(10_000);
    expect([close.opcode, close.payload.readUInt16BE(0)]).toEqual([0x8, 1009]);
    expect(await raw.closed()).toBe(true);
    expect(errors.map((e) => (e as Error & { closeCode?: number }).closeCode)).toEqual([1009]);
    // At most maxPayload plus zlib's chunks and the compressed frame were held, never the 256 MiB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 << 20);
    await wss.close();
  });

  it("our client closes with 1009 when a ws server's message inflates past maxPayload", async () => {
    const server = new WSServer({ port: 0, host: "127.0.0.1", perMessageDeflate: { threshold: 0 } });
    await once(server, "listening");
    const peerClose = new Promise<number>((resolve) =>
      server.on("connection", (ws) => {
        ws.on("close", (code) => resolve(code));
        ws.send(Buffer.alloc(8 << 20));
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, undefined, {
      perMessageDeflate: true,
      maxPayload: 1 << 20,
    });
    await nextEvent<CloseEvent>(ws, "close");
    expect(await peerClose).toBe(1009);
    await new Promise((resolve) => server.close(resolve));
  });
});
