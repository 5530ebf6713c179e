// Autobahn 12.x/13.x-style permessage-deflate cases. 12.x: many messages of one kind and size echoed
// compressed (JSON, prose, structured binary, random binary; 16 B to 128 KiB). 13.x: the same under each
// negotiated parameter set (context takeover or not, window bits 9 and 15, several offers). The peer that
// is not under test is ws, as Autobahn's fuzzing client/server; messages go whole and fragmented.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS, { WebSocketServer as WSServer } from "ws";
import type { PerMessageDeflateOptions } from "../../bindings/protocol/extensions.js";
import type { ServerConnection } from "../../runtimes/node/index.js";
import { echoServer, nextEvent, openClient, RawClient } from "../runtimes/node/peers.js";
import { jsonText } from "../support/json-text.js";

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];

const PROSE =
  "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer " +
  "The slings and arrows of outrageous fortune, Or to take arms against a sea of troubles ";

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

/** Autobahn 12.1-12.5: the payload kinds. */
const KINDS: Array<[string, (size: number, seed: number) => string | Buffer]> = [
  ["12.1 JSON", (size, seed) => jsonText(size, seed)],
  [
    "12.2 prose",
    (size, seed) =>
      (PROSE.slice(seed % 40) + PROSE).repeat(Math.ceil(size / PROSE.length) + 1).slice(0, size),
  ],
  [
    "12.3 structured binary",
    (size, seed) => {
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = i % 16 < 4 ? (i >> 4) + seed : i % 7;
      return bytes;
    },
  ],
  ["12.4 random binary", (size, seed) => noise(size, seed)],
];

/** Autobahn 13.x: the parameter sets, as both ends' options. */
const PARAMETERS: Array<[string, PerMessageDeflateOptions]> = [
  ["13.1 defaults (context takeover)", {}],
  ["13.2 client_no_context_takeover", { clientNoContextTakeover: true }],
  ["13.3 window bits 9", { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }],
  ["13.4 window bits 15", { serverMaxWindowBits: 15, clientMaxWindowBits: 15 }],
  [
    "13.5 no context takeover, window bits 9",
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 9,
    },
  ],
  [
    "13.6 no context takeover, window bits 15",
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    },
  ],
];

/** Messages of a case: fewer for the big sizes, as each is echoed and compared. */
const countFor = (size: number) => (size <= 1024 ? 50 : size <= 16384 ? 12 : 4);

const equal = (data: Buffer, isBinary: boolean, message: string | Buffer) =>
  typeof message === "string" ? !isBinary && data.toString() === message : isBinary && data.equals(message);

describe("server under test (ws as the fuzzing client)", () => {
  for (const [section, options] of PARAMETERS)
    for (const fragmented of [false, true])
      it(`${section}: 12.1-12.4 × ${SIZES.length} sizes${fragmented ? ", fragmented in 4" : ""}`, async () => {
        const { wss, port } = await echoServer({
          perMessageDeflate: { ...options, threshold: 0 },
          maxPayload: 1 << 20,
        });
        const ws = new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: { ...options, threshold: 0 } });
        await once(ws, "open");
        const [conn] = [...wss.clients] as ServerConnection[];
        expect(conn.extensions).toMatch(/^permessage-deflate/);
        let failures = 0;
        let sent = 0;
        for (const [, make] of KINDS)
          for (const size of SIZES)
            for (let i = 0; i < countFor(size); i++) {
              const message = make(size, i);
              const back = once(ws, "message");
              if (!fragmented) ws.send(message);
              else {
                const quarter = Math.ceil(message.length / 4);
                for (let at = 0; at < message.length; at += quarter)
                  ws.send(message.slice(at, at + quarter), {
                    fin: at + quarter >= message.length,
                    compress: true,
                  });
              }
              sent += message.length;
              const [data, isBinary] = (await back) as [Buffer, boolean];
              if (!equal(data, isBinary, message)) failures++;
            }
        expect(failures).toBe(0);
        expect(conn.socket.bytesRead).toBeLessThan(sent);
        ws.close(1000);
        expect((await once(ws, "close"))[0]).toBe(1000);
        await wss.close();
      });

  it("13.7 several offers: the first acceptable one is taken", async () => {
    const { wss, port } = await echoServer({ perMessageDeflate: true });
    const raw = await RawClient.open(
      port,
      "/",
      "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16, " +
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10, permessage-deflate\r\n",
    );
    raw.destroy();
    const opened = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
    const ws = new WS(`ws://127.0.0.1:${port}`, {
      perMessageDeflate: { serverMaxWindowBits: 10, clientNoContextTakeover: true },
    });
    await once(ws, "open");
    const conn = await opened;
    expect(conn.extensions).toBe("permessage-deflate; client_no_context_takeover; server_max_window_bits=10");
    ws.close();
    await wss.close();
  });
});

describe("client under test (ws as the fuzzing server)", () => {
  let server: WSServer;
  let port: number;
  let serverOptions: PerMessageDeflateOptions = {};

  beforeAll(async () => {
    server = new WSServer({
      port: 0,
      host: "127.0.0.1",
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

  for (const [section, options] of PARAMETERS)
    for (const maxFragmentSize of [0, 1000])
      it(`${section}: 12.1-12.4 × ${SIZES.length} sizes${maxFragmentSize ? ", fragmented at 1000 bytes" : ""}`, async () => {
        serverOptions = options;
        const ws = await openClient(`ws://127.0.0.1:${port}`, undefined, {
          perMessageDeflate: { ...options, threshold: 0 },
          maxFragmentSize,
        });
        expect(ws.extensions).toMatch(/^permessage-deflate/);
        let failures = 0;
        for (const [, make] of KINDS)
          for (const size of SIZES)
            for (let i = 0; i < countFor(size); i++) {
              const message = make(size, i);
              const back = nextEvent<MessageEvent>(ws, "message");
              ws.send(message);
              const data = (await back).data as string | Buffer;
              const same =
                typeof message === "string"
                  ? data === message
                  : Buffer.isBuffer(data) && data.equals(message);
              if (!same) failures++;
            }
        expect(failures).toBe(0);
        ws.close(1000);
        expect((await nextEvent<CloseEvent>(ws, "close")).wasClean).toBe(true);
      });
});
