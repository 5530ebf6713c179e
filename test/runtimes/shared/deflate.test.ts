// permessage-deflate on Node and Bun alike: our client ↔ our server over the parameter sets, the bomb
// limit, and under Bun, Bun's own WebSocket and Bun.serve (both compress) against ours.
import * as zlib from "node:zlib";
import {
  openDeflateStreams,
  openInflateStreams,
  waitingDeflates,
  waitingInflates,
} from "../../../runtimes/node/deflate.js";
import { jsonText } from "../../support/json-text.js";
import { frame, RawClient, within } from "../../support/raw-client.js";
import {
  describe,
  echoServer,
  expect,
  isBun,
  it,
  listen,
  nextEvent,
  nextMessage,
  openClient,
  runtime,
} from "./harness.js";

const Opcode = { Text: 1, Binary: 2, Continuation: 0, Close: 8, Ping: 9, Pong: 10 };
const OFFER = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

/** `size` zeros deflated alone, the sync-flush tail removed: what a peer sends as a compressed payload. */
function deflatedZeros(size: number): Buffer {
  let payload = deflated.get(size);
  if (payload) return payload;
  const bytes = zlib.deflateRawSync(Buffer.alloc(size), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  payload = bytes.subarray(0, bytes.length - 4);
  deflated.set(size, payload);
  return payload;
}
const deflated = new Map<number, Buffer>();

/**
 * A raw peer that sends a compressed message of `bombBytes` zeros in two steps: every payload byte first (a
 * frame without FIN; a ping answered proves the server parsed it), then the empty last frame alone (6 bytes,
 * one read), so the server starts inflating right after reading that, whatever else it has to read.
 */
async function startBomb(port: number, bombBytes: number): Promise<RawClient> {
  const peer = await RawClient.open(port, "/", OFFER);
  peer.socket.setNoDelay(true);
  peer.write(frame(Opcode.Binary, deflatedZeros(bombBytes), { fin: false, rsv: 4 }));
  peer.write(frame(Opcode.Ping, "parsed"));
  const pong = await peer.readFrame(10_000);
  expect([pong.opcode, pong.payload.toString()]).toEqual([Opcode.Pong, "parsed"]);
  peer.write(frame(Opcode.Continuation));
  return peer;
}

/** Wait (bounded) until `check()` holds. */
async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  return check();
}

const COMBOS = [
  {},
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
];

const MESSAGES = [
  "",
  jsonText(100, 1),
  jsonText(1024, 2),
  jsonText(1024, 3),
  jsonText(70_000, 4),
  "é".repeat(4000),
];

async function echoAll(ws: EventTarget & { send(data: string | Uint8Array): void }): Promise<void> {
  for (const message of MESSAGES) {
    ws.send(message);
    expect(await nextMessage(ws)).toBe(message);
    const bytes = new TextEncoder().encode(message);
    ws.send(bytes);
    const back = (await nextMessage(ws)) as ArrayBuffer | Uint8Array;
    expect(
      new Uint8Array(
        back instanceof ArrayBuffer
          ? back
          : back.buffer.slice(back.byteOffset, back.byteOffset + back.byteLength),
      ),
    ).toEqual(bytes);
  }
}

describe(`permessage-deflate on ${runtime}`, () => {
  for (const options of COMBOS)
    it(`our client ↔ our server, ${JSON.stringify(options)}`, async () => {
      const { wss, url } = await echoServer({ perMessageDeflate: { ...options, threshold: 0 } });
      const opened = new Promise<{ extensions: string }>((resolve) => wss.once("connection", resolve));
      const ws = await openClient(url, undefined, { perMessageDeflate: { ...options, threshold: 0 } });
      ws.binaryType = "arraybuffer";
      expect(ws.extensions).toMatch(/^permessage-deflate/);
      expect((await opened).extensions).toBe(ws.extensions);
      await echoAll(ws);
      ws.close(1000);
      expect((await nextEvent<CloseEvent>(ws, "close")).wasClean).toBe(true);
      await wss.close();
    });

  it("a message inflating past maxPayload closes the connection with 1009", async () => {
    const { wss, url } = await echoServer({ perMessageDeflate: true, maxPayload: 64 * 1024 });
    const failed = new Promise<Error & { code?: string; rule?: string }>((resolve) =>
      wss.once("connection", (conn) => conn.on("error", (error: Error) => resolve(error))),
    );
    const ws = await openClient(url, undefined, { perMessageDeflate: true });
    ws.send(new Uint8Array(1 << 20)); // 1 MiB of zeros: about 1 KiB on the wire
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect(event.code).toBe(1009);
    const error = await failed;
    expect([error.rule, error.code, error.message]).toEqual([
      "InflatedTooBig",
      "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      "Max payload size exceeded",
    ]);
    await wss.close();
  });

  it("stays off unless both ends ask for it", async () => {
    const { wss, url } = await echoServer();
    const ws = await openClient(url, undefined, { perMessageDeflate: true });
    expect(ws.extensions).toBe("");
    ws.close();
    await wss.close();
  });

  it.skipIf(!isBun)("Bun's own WebSocket (which offers deflate) talks compressed to our server", async () => {
    const { wss, url } = await echoServer({ perMessageDeflate: { threshold: 0 } });
    const native = new globalThis.WebSocket(url);
    native.binaryType = "arraybuffer";
    await nextEvent(native, "open");
    expect(native.extensions).toMatch(/permessage-deflate/);
    await echoAll(native);
    native.close(1000);
    await wss.close();
  });

  it.skipIf(!isBun)("our client talks compressed to Bun.serve with perMessageDeflate", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        perMessageDeflate: true,
        message(ws, message) {
          ws.send(message);
        },
      },
    });
    const ws = await openClient(`ws://127.0.0.1:${server.port}/`, undefined, { perMessageDeflate: true });
    ws.binaryType = "arraybuffer";
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    await echoAll(ws);
    ws.close();
    server.stop(true);
  });

  it("a bomb inflating on one connection does not stop another's echoes, and ends with 1009", async () => {
    const maxPayload = 64 << 20;
    const { wss, port } = await echoServer({ perMessageDeflate: true, maxPayload });
    const other = await RawClient.open(port);
    other.socket.setNoDelay(true);
    const bomb = await startBomb(port, 2 * maxPayload); // about 128 KiB that inflate past 64 MiB
    let closeArrived = false;
    bomb.socket.on("data", () => (closeArrived = true));
    // Sent after the bomb's last frame, so read after it: a server that inflates on its event loop answers
    // none of these before the bomb's 1009 (and at most the first, were it read first).
    const echoedBeforeClose: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      other.write(frame(Opcode.Text, `echo ${i}`));
      const echo = await other.readFrame(20_000);
      expect(echo.payload.toString()).toBe(`echo ${i}`);
      echoedBeforeClose.push(!closeArrived);
    }
    expect(echoedBeforeClose).toEqual([true, true, true]);
    const close = await bomb.readFrame(20_000);
    expect([close.opcode, close.payload.readUInt16BE(0)]).toEqual([Opcode.Close, 1009]);
    bomb.destroy();
    other.destroy();
    await wss.close();
  });

  it("keeps the order of messages compressed and not, small and large, sent in one burst", async () => {
    const { wss, url } = await echoServer({ perMessageDeflate: true });
    const ws = await openClient(url, undefined, { perMessageDeflate: true });
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    const got: string[] = [];
    ws.addEventListener("message", (event) => got.push(String((event as MessageEvent).data).slice(0, 12)));
    // Below the 1 KiB threshold: uncompressed; 2 KiB: inflated at once; 100-300 KiB: off the event loop.
    const sizes = [10, 2048, 300_000, 20, 100_000, 5000, 1, 150_000];
    const sent: string[] = [];
    for (let round = 0; round < 4; round++)
      for (const [i, size] of sizes.entries()) {
        const tag = `${round}-${i}`.padEnd(12, ".");
        ws.send(tag + jsonText(Math.max(0, size - 12), round * 8 + i));
        sent.push(tag);
      }
    expect(await until(() => got.length === sent.length)).toBe(true);
    expect(got).toEqual(sent);
    ws.close();
    await wss.close();
  });

  it("leaves no zlib stream open once peers go away while their messages inflate", async () => {
    const { wss, port } = await echoServer({ perMessageDeflate: true, maxPayload: 64 << 20 });
    const closed: Promise<unknown>[] = [];
    wss.on("connection", (conn) => closed.push(new Promise((resolve) => conn.once("close", resolve))));
    const peers = await Promise.all(Array.from({ length: 4 }, () => startBomb(port, 128 << 20)));
    expect(await until(() => openInflateStreams() > 0)).toBe(true);
    for (const peer of peers) peer.destroy();
    await Promise.all(closed);
    expect(await until(() => openInflateStreams() === 0)).toBe(true);
    expect(waitingInflates()).toBe(0);
    await wss.close();
  });
  it("another connection's echoes arrive while a long echo is being compressed", async () => {
    const { wss, port } = await echoServer({ perMessageDeflate: true });
    const other = await RawClient.open(port);
    other.socket.setNoDelay(true);
    const peer = await RawClient.open(port, "/", OFFER);
    peer.socket.setNoDelay(true);
    // 8 MiB of JSON-like text sent uncompressed: the server compresses its echo (tens of ms of zlib). Every byte
    // first, then the empty last frame alone, so the echo starts right after the server reads that.
    const text = Buffer.from(jsonText(8 << 20, 7));
    peer.write(frame(Opcode.Text, text, { fin: false }));
    peer.write(frame(Opcode.Ping, "parsed"));
    expect((await peer.readFrame(20_000)).opcode).toBe(Opcode.Pong);
    let echoArrived = false;
    peer.socket.on("data", () => (echoArrived = true));
    peer.write(frame(Opcode.Continuation));
    // Sent after the long message's last frame: a server that compresses on its event loop answers at most
    // the first of these before the long echo.
    const echoedBefore: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      other.write(frame(Opcode.Text, `echo ${i}`));
      expect((await other.readFrame(20_000)).payload.toString()).toBe(`echo ${i}`);
      echoedBefore.push(!echoArrived);
    }
    expect(echoedBefore).toEqual([true, true, true]);
    const echo = await peer.readFrame(20_000);
    expect([echo.opcode, echo.rsv]).toEqual([Opcode.Text, 4]);
    const inflated = zlib.inflateRawSync(Buffer.concat([echo.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(inflated.equals(text)).toBe(true);
    peer.destroy();
    other.destroy();
    await wss.close();
  }, 40_000);

  it("counts a message being compressed in bufferedAmount, and calls back once it is written", async () => {
    const { wss, url } = await listen({ perMessageDeflate: true });
    const size = 4 << 20;
    let during = 0;
    const sent = new Promise<[number, Error | undefined]>((resolve) =>
      wss.on("connection", (conn) => {
        conn.send(new Uint8Array(size), (error) => resolve([conn.bufferedAmount, error]));
        during = conn.bufferedAmount;
      }),
    );
    const ws = await openClient(url, undefined, { perMessageDeflate: true });
    ws.binaryType = "arraybuffer";
    const got = (await within(nextMessage(ws), 10_000, "the message")) as ArrayBuffer;
    expect(got.byteLength).toBe(size);
    const [after, error] = await within(sent, 10_000, "the send callback");
    // Compressed off the event loop, so still all there after send() (synchronously: about 4 KiB of frame).
    expect(during).toBeGreaterThanOrEqual(size);
    expect(error).toBeUndefined();
    expect(after).toBeLessThan(64 * 1024);
    ws.close();
    await wss.close();
  });

  it("keeps order across sizes, with a ping and the close behind long compressed messages, both ways", async () => {
    const { wss, url } = await echoServer({ perMessageDeflate: true });
    const ws = await openClient(url, undefined, { perMessageDeflate: true });
    const got: string[] = [];
    ws.addEventListener("message", (event) => got.push(String((event as MessageEvent).data).slice(0, 12)));
    // Below the threshold, compressed at once (2-60 KiB), and off the event loop (100 KiB-1 MiB).
    const sizes = [1 << 20, 10, 2048, 300_000, 20, 100_000, 60_000, 1, 150_000, 1 << 20];
    const sent: string[] = [];
    for (const [i, size] of sizes.entries()) {
      const tag = `m${i}`.padEnd(12, ".");
      ws.send(tag + jsonText(Math.max(0, size - 12), i));
      sent.push(tag);
      if (i === 4) ws.ping("between");
    }
    const closed = nextEvent<CloseEvent>(ws, "close");
    ws.close(4000, "after the burst");
    const event = await within(closed, 20_000, "the close handshake");
    // The server's echoes went before its reply to our close, in order.
    expect(got).toEqual(sent);
    expect([event.code, event.wasClean]).toEqual([4000, true]);
    await wss.close();
  }, 40_000);

  it("leaves no zlib stream open once connections are terminated while their messages compress", async () => {
    const { wss, url } = await listen({ perMessageDeflate: true });
    const errors: Array<Promise<string | undefined>> = [];
    let started = 0;
    wss.on("connection", (conn) => {
      errors.push(
        new Promise((resolve) => conn.send(new Uint8Array(16 << 20), (error) => resolve(error?.message))),
      );
      started = Math.max(started, openDeflateStreams());
      conn.terminate();
    });
    // More at once than compress at a time: some are cancelled while waiting for their turn.
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => openClient(url, undefined, { perMessageDeflate: true })),
    );
    expect(await until(() => errors.length === 4)).toBe(true);
    expect(await Promise.all(errors)).toEqual(
      Array(4).fill("The socket was closed while data was being compressed"),
    );
    expect(started).toBeGreaterThan(0);
    expect(await until(() => openDeflateStreams() === 0)).toBe(true);
    expect(waitingDeflates()).toBe(0);
    for (const ws of clients) ws.close();
    await wss.close();
  });
});
