// permessage-deflate on Node and Bun alike: our client ↔ our server over the parameter sets, the bomb
// limit, and under Bun, Bun's own WebSocket and Bun.serve (both compress) against ours.
import { jsonText } from "../../support/json-text.js";
import {
  describe,
  echoServer,
  expect,
  isBun,
  it,
  nextEvent,
  nextMessage,
  openClient,
  runtime,
} from "./harness.js";

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
});
