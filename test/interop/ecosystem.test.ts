// The two most used libraries that take a ws-compatible class by injection, run on ours:
// - socket.io 4 / engine.io 6 with `wsEngine: WebSocketServer` (ESM, and the package's CommonJS build as
//   require("wasmsocket") gives it), the peer being the real socket.io-client (which dials with `ws`);
// - graphql-ws 6: `useServer({ schema }, wss)` from graphql-ws/use/ws on our server, and graphql-ws's
//   `createClient({ webSocketImpl })` with our client class.
// Each case runs on `ws` too (its server for socket.io; each half swapped for graphql-ws), so the
// expectations are ws's behaviour and a failure says which half is ours to fix.
import { execFile } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createClient, type Client as GraphqlClient } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import type { Socket as EngineSocket } from "engine.io";
import type { Socket as ServerSocket } from "socket.io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS, { WebSocketServer as WSServer } from "ws";
import { WebSocket, WebSocketServer } from "../../runtimes/node/index.js";
import { within } from "../support/raw-client.js";
import {
  ioClient,
  nextDisconnect,
  nextIoEvent,
  startIo,
  transportOf,
  type ClientSocket,
  type IoServer,
} from "../support/socketio.js";

const root = join(import.meta.dirname, "..", "..");
const require = createRequire(import.meta.url);
/** The package as a CommonJS user requires it (package.json "exports": dist/cjs/node.cjs). */
const cjs = require("wasmsocket") as typeof import("../../runtimes/node/index.js");

describe("the CommonJS build", () => {
  it('is what require("wasmsocket") loads, a class of its own', () => {
    expect(require.resolve("wasmsocket")).toBe(join(root, "dist", "cjs", "node.cjs"));
    expect(cjs.WebSocketServer).not.toBe(WebSocketServer);
  });
});

const ENGINES = [
  { name: "wasmsocket (ESM)", wsEngine: WebSocketServer as unknown, ours: true },
  { name: "wasmsocket (CommonJS)", wsEngine: cjs.WebSocketServer as unknown, ours: true },
  { name: "ws (reference)", wsEngine: WSServer as unknown, ours: false },
];

/** The ws-shaped connection engine.io's websocket transport holds (`transport.socket`). */
interface TransportSocket {
  extensions: string;
  _sender?: { sendFrame?: unknown };
}

function transportSocket(socket: ServerSocket): TransportSocket {
  return (socket.conn.transport as unknown as { socket: TransportSocket }).socket;
}

/** The permessage-deflate extension the client's `ws` negotiated ("" for none). */
function clientExtensions(socket: ClientSocket): string {
  return (socket.io.engine.transport as unknown as { ws: { extensions: string } }).ws.extensions;
}

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const MAX_HTTP_BUFFER = 200_000;

for (const engine of ENGINES) {
  for (const deflate of [false, true]) {
    describe(`socket.io with wsEngine ${engine.name}, perMessageDeflate ${deflate ? "on" : "off"}`, () => {
      let server: IoServer;
      /** Server-side sockets by the client's id, and the reasons they were disconnected for. */
      const sockets = new Map<string, ServerSocket>();
      const serverReasons = new Map<string, string>();
      /** Whether each outgoing engine.io message packet came with socket.io-adapter's pre-encoded frame. */
      const preEncoded: Array<{ data: unknown; frame: boolean }> = [];
      const upgrades: string[] = [];
      const clients: ClientSocket[] = [];

      async function client(transports: Array<"polling" | "websocket">): Promise<ClientSocket> {
        const socket = await ioClient(server.url, transports);
        clients.push(socket);
        return socket;
      }

      function serverSide(socket: ClientSocket): ServerSocket {
        const found = sockets.get(socket.id!);
        if (!found) throw new Error(`no server socket for ${socket.id}`);
        return found;
      }

      /** The reason the server gave for `socket`'s disconnect, once it has one. */
      async function serverReason(id: string): Promise<string> {
        for (let i = 0; i < 500 && !serverReasons.has(id); i++) await new Promise((r) => setTimeout(r, 10));
        return serverReasons.get(id) ?? "none within 5 s";
      }

      beforeAll(async () => {
        server = await startIo({
          wsEngine: engine.wsEngine,
          // engine.io's `true` is { threshold: 1024 }: small packets go uncompressed, large ones compressed.
          perMessageDeflate: deflate,
          maxHttpBufferSize: MAX_HTTP_BUFFER,
        });
        const { io } = server;
        io.engine.on("initial_headers", (headers: Record<string, string>) => (headers["x-initial"] = "yes"));
        io.engine.on("headers", (headers: Record<string, string>) => (headers["x-every"] = "yes"));
        io.engine.on("connection", (socket: EngineSocket) => {
          socket.on("upgrade", (transport: { name: string }) => upgrades.push(transport.name));
          socket.on("packetCreate", (packet: { type: string; data?: unknown; options?: object }) => {
            if (packet.type !== "message") return;
            const frame = (packet.options as { wsPreEncodedFrame?: unknown } | undefined)?.wsPreEncodedFrame;
            preEncoded.push({ data: packet.data, frame: frame !== undefined });
          });
        });
        io.on("connection", (socket) => {
          sockets.set(socket.id, socket);
          socket.on("disconnect", (reason) => serverReasons.set(socket.id, reason));
          socket.on("echo", (data: unknown, ack: (data: unknown) => void) => ack(data));
          // Binary attachments in both directions: each Buffer comes back reversed, in a new structure.
          socket.on("flip", (data: { one: Buffer; many: Buffer[] }, ack: (data: unknown) => void) =>
            ack({
              flipped: [data.one, ...data.many].map((b) => Buffer.from(b).reverse()),
              count: 1 + data.many.length,
            }),
          );
          socket.on("shout", (data: unknown) => io.emit("news", data));
          socket.on("kick", () => socket.disconnect(true));
          socket.on("cut", () => socket.conn.close());
        });
      });

      afterAll(async () => {
        for (const socket of clients) socket.disconnect();
        await server.close();
        expect(server.httpServer.listening).toBe(false);
      });

      it("websocket only: acks, text and binary attachments both ways, the peer's address", async () => {
        const socket = await client(["websocket"]);
        expect(transportOf(socket)).toBe("websocket");
        const peer = serverSide(socket);
        expect(peer.conn.transport.name).toBe("websocket");
        expect(peer.handshake.address).toBe("127.0.0.1");
        expect(transportSocket(peer).extensions).toBe(deflate ? "permessage-deflate" : "");
        expect(clientExtensions(socket)).toBe(deflate ? "permessage-deflate" : "");
        const text = { greeting: "héllo wörld ✓".repeat(1000), n: 42, nested: [null, true, "x"] };
        expect(await socket.timeout(5000).emitWithAck("echo", text)).toEqual(text);
        const one = bytes(10, 1);
        const many = [bytes(0, 2), bytes(125, 3), bytes(70_000, 4)];
        const answer = (await socket.timeout(5000).emitWithAck("flip", { one, many })) as {
          flipped: Buffer[];
          count: number;
        };
        expect(answer.count).toBe(4);
        expect(answer.flipped.every((b) => Buffer.isBuffer(b))).toBe(true);
        expect(answer.flipped.map((b) => b.toString("hex"))).toEqual(
          [one, ...many].map((b) => Buffer.from(b).reverse().toString("hex")),
        );
        // Server to client: a Buffer attachment arrives as a Buffer.
        const event = nextIoEvent(socket, "bytes");
        peer.emit("bytes", bytes(1000, 5), "tail");
        const [data, tail] = await event;
        expect(Buffer.isBuffer(data) && (data as Buffer).equals(bytes(1000, 5))).toBe(true);
        expect(tail).toBe("tail");
      });

      it("polling upgrades to websocket (the engine's 'upgrade' event), then acks and binary go over it", async () => {
        const before = upgrades.length;
        const socket = await client(["polling", "websocket"]);
        expect(transportOf(socket)).toBe("websocket");
        const peer = serverSide(socket);
        // The server's engine socket switched too (its 'upgrade' comes as the client's probe completes).
        for (let i = 0; i < 500 && upgrades.length === before; i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(upgrades.slice(before)).toEqual(["websocket"]);
        expect(peer.conn.transport.name).toBe("websocket");
        expect(await socket.timeout(5000).emitWithAck("echo", "after upgrade")).toBe("after upgrade");
        const payload = bytes(5000, 6);
        const answer = (await socket.timeout(5000).emitWithAck("flip", { one: payload, many: [] })) as {
          flipped: Buffer[];
        };
        expect(answer.flipped[0].equals(Buffer.from(payload).reverse())).toBe(true);
      });

      it("broadcasts to every client; without ws's `_sender` engine.io writes the frame itself", async () => {
        const group = [await client(["websocket"]), await client(["websocket"]), await client(["websocket"])];
        const sender = transportSocket(serverSide(group[0]))._sender;
        // socket.io-adapter pre-encodes a text broadcast with ws's Sender.frame; engine.io uses it only
        // through `ws._sender.sendFrame`, which ours does not have: each connection frames the packet.
        expect(typeof sender?.sendFrame).toBe(engine.ours ? "undefined" : "function");
        const message = `news ${"!".repeat(300)}`;
        const heard = group.map((socket) => nextIoEvent(socket, "news"));
        group[1].emit("shout", message);
        expect((await Promise.all(heard)).map(([data]) => data)).toEqual([message, message, message]);
        const sent = preEncoded.filter((packet) => String(packet.data).includes(message));
        expect(sent.length).toBeGreaterThanOrEqual(3);
        expect(sent.every((packet) => packet.frame)).toBe(true);
        // A binary broadcast (several engine.io packets: not pre-encoded) reaches everyone too.
        const binary = group.map((socket) => nextIoEvent(socket, "news"));
        group[2].emit("shout", bytes(3000, 7));
        for (const [data] of await Promise.all(binary))
          expect((data as Buffer).equals(bytes(3000, 7))).toBe(true);
      });

      it("server disconnect(true), client disconnect, conn.close() and a client's close: both sides' reasons", async () => {
        const kicked = await client(["websocket"]);
        const kickedId = kicked.id!;
        const reason = nextDisconnect(kicked);
        kicked.emit("kick");
        expect(await reason).toBe("io server disconnect");
        expect(await serverReason(kickedId)).toBe("server namespace disconnect");

        const leaving = await client(["polling", "websocket"]);
        const leavingId = leaving.id!;
        const left = nextDisconnect(leaving);
        leaving.disconnect();
        expect(await left).toBe("io client disconnect");
        expect(await serverReason(leavingId)).toBe("client namespace disconnect");

        const cut = await client(["websocket"]);
        const cutId = cut.id!;
        const cutReason = nextDisconnect(cut);
        cut.emit("cut");
        expect(await cutReason).toBe("transport close");
        expect(await serverReason(cutId)).toBe("forced close");

        // The client's transport closes under it (its WebSocket's close handshake with our server).
        const dropped = await client(["websocket"]);
        const droppedId = dropped.id!;
        dropped.io.engine.close();
        expect(await serverReason(droppedId)).toBe("transport close");

        // Its TCP connection is cut, no close frame: both sides see the transport close.
        const severed = await client(["websocket"]);
        const severedId = severed.id!;
        const severedReason = nextDisconnect(severed);
        (
          severed.io.engine.transport as unknown as { ws: { _socket: { destroy(): void } } }
        ).ws._socket.destroy();
        expect(await severedReason).toBe("transport close");
        expect(await serverReason(severedId)).toBe("transport close");
      });

      it("a message over maxHttpBufferSize (our maxPayload) closes that connection only", async () => {
        const big = await client(["websocket"]);
        const bigId = big.id!;
        const other = await client(["websocket"]);
        const reason = nextDisconnect(big);
        big.emit("echo", bytes(MAX_HTTP_BUFFER + 1000, 8));
        expect(await reason).toBe("transport close");
        expect(await serverReason(bigId)).toBe("transport error");
        expect(await other.timeout(5000).emitWithAck("echo", "still here")).toBe("still here");
      });

      it("engine.io's initial_headers and headers reach the 101 (ws's 'headers' event)", async () => {
        const ws = new WS(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
        const response = await within(
          new Promise<http.IncomingMessage>((resolve, reject) => {
            ws.once("upgrade", resolve);
            ws.once("error", reject);
          }),
          5000,
          "101",
        );
        expect(response.headers["x-initial"]).toBe("yes");
        expect(response.headers["x-every"]).toBe("yes");
        const closed = new Promise((resolve) => ws.once("close", resolve));
        ws.close();
        await within(closed, 5000, "close");
      });
    });
  }
}

describe("socket.io's documented perMessageDeflate example (ws's option names)", () => {
  const example = {
    threshold: 2048,
    zlibDeflateOptions: { chunkSize: 8 * 1024 },
    zlibInflateOptions: { windowBits: 14, memLevel: 7 },
    clientNoContextTakeover: true,
    serverNoContextTakeover: true,
    serverMaxWindowBits: 10,
    concurrencyLimit: 10,
  };
  for (const engine of ENGINES) {
    it(`${engine.name}: negotiates what it asks for and compresses with it`, async () => {
      const server = await startIo({ wsEngine: engine.wsEngine, perMessageDeflate: example });
      server.io.on("connection", (socket) =>
        socket.on("echo", (data: unknown, ack: (data: unknown) => void) => ack(data)),
      );
      try {
        const socket = await ioClient(server.url, ["websocket"]);
        const ws = (socket.io.engine.transport as unknown as { ws: { _extensions: Record<string, unknown> } })
          .ws;
        const deflate = ws._extensions["permessage-deflate"] as { params: Record<string, unknown> };
        expect(deflate.params).toEqual({
          server_no_context_takeover: true,
          client_no_context_takeover: true,
          server_max_window_bits: 10,
        });
        const text = "compress me ".repeat(30_000);
        expect(await socket.timeout(5000).emitWithAck("echo", text)).toBe(text);
        socket.disconnect();
      } finally {
        await server.close();
      }
    });
  }
});

/** Run the CommonJS app test/interop/socketio-exit.cjs, which must exit by itself after io.close(). */
function runExitApp(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(import.meta.dirname, "socketio-exit.cjs"), ...args],
      { cwd: root, timeout: 25_000, encoding: "utf8" },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe("socket.io: io.close() leaves nothing behind", () => {
  for (const [how, deflate] of [
    ["require", ""],
    ["require", "deflate"],
    ["import", ""],
    ["import", "deflate"],
  ]) {
    it(`with ${how}("wasmsocket")${deflate ? " and permessage-deflate" : ""}: the process exits by itself`, async () => {
      const { code, stdout, stderr } = await runExitApp([how, "wasmsocket", deflate]);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({
        transports: ["websocket", "websocket", "polling"],
        engine: true,
        reasons: ["transport close", "transport close", "transport error"],
        httpClosed: true,
        listening: false,
      });
    });
  }
});

// graphql-ws ------------------------------------------------------------------------------------------------

// graphql as graphql-ws loads it (Node's resolution: its CommonJS main), not the ESM copy vite would pick:
// two copies of graphql refuse each other's schemas.
const { buildSchema } = require("graphql") as typeof import("graphql");
const schema = buildSchema(`
  type Query { hello(name: String): String }
  type Subscription { count(to: Int!): Int, pongs(n: Int!): Int }
`);

type Ws = InstanceType<typeof WSServer>;

/** What the server saw of its connections: protocol chosen, close code and reason, pongs. */
interface Seen {
  protocols: string[];
  closes: Array<[number, string]>;
  pongs: number;
  pongWaiters: Array<() => void>;
}

const SERVERS = [
  { name: "our server", make: (server: http.Server) => new WebSocketServer({ server, path: "/graphql" }) },
  { name: "ws's server", make: (server: http.Server) => new WSServer({ server, path: "/graphql" }) },
];
const CLIENTS = [
  { name: "our client", Impl: WebSocket as unknown as typeof WS },
  { name: "ws's client", Impl: WS },
];

for (const side of SERVERS) {
  for (const peer of CLIENTS) {
    describe(`graphql-ws: ${side.name} (useServer) with ${peer.name} (createClient's webSocketImpl)`, () => {
      let httpServer: http.Server;
      let wss: WebSocketServer | WSServer;
      let url: string;
      let disposable: { dispose(): Promise<void> | void };
      let disposed = false;
      const dispose = async () => {
        if (disposed) return;
        disposed = true;
        await within(Promise.resolve(disposable.dispose()), 5000, "dispose");
      };
      const seen: Seen = { protocols: [], closes: [], pongs: 0, pongWaiters: [] };
      const clients: GraphqlClient[] = [];

      function client(Impl: unknown = peer.Impl, connectionParams?: Record<string, unknown>): GraphqlClient {
        const made = createClient({
          url,
          webSocketImpl: Impl,
          retryAttempts: 0,
          lazy: true,
          connectionParams,
        });
        clients.push(made);
        return made;
      }

      function run<T>(made: GraphqlClient, query: string): Promise<T[]> {
        return within(
          new Promise<T[]>((resolve, reject) => {
            const values: T[] = [];
            made.subscribe<T>(
              { query },
              { next: (v) => values.push(v.data as T), error: reject, complete: () => resolve(values) },
            );
          }),
          10_000,
          query,
        );
      }

      /**
       * A server-side connection closed with `code` and `reason` since `seen.closes` had `before` entries
       * (earlier tests' connections may be closing meanwhile: lazy clients with 1000, a failed one 1006).
       */
      async function serverClosed(before: number, code: number, reason: string): Promise<void> {
        const found = () => seen.closes.slice(before).some(([c, r]) => c === code && r === reason);
        for (let i = 0; i < 500 && !found(); i++) await new Promise((r) => setTimeout(r, 10));
        expect(seen.closes.slice(before)).toContainEqual([code, reason]);
      }

      /** The error the operation ends with (graphql-ws hands a fatal close event to the sink). */
      function failure(made: GraphqlClient): Promise<{ code?: number; reason?: string; type?: string }> {
        return within(
          new Promise((resolve) =>
            made.subscribe(
              { query: "{ hello }" },
              { next() {}, error: (e) => resolve(e as object), complete: () => resolve({}) },
            ),
          ),
          10_000,
          "operation error",
        );
      }

      beforeAll(async () => {
        httpServer = http.createServer();
        wss = side.make(httpServer);
        (wss as unknown as Ws).on("connection", (socket) => {
          seen.protocols.push(socket.protocol);
          socket.on("close", (code, reason) => seen.closes.push([code, String(reason)]));
          socket.on("pong", () => {
            seen.pongs++;
            for (const wake of seen.pongWaiters.splice(0)) wake();
          });
        });
        const roots = {
          query: { hello: ({ name }: { name?: string }) => `hello ${name ?? "you"}` },
          subscription: {
            count: async function* ({ to }: { to: number }) {
              for (let i = 1; i <= to; i++) yield { count: i };
            },
            // One value per pong the server's keep-alive pings got back.
            pongs: async function* ({ n }: { n: number }) {
              for (let i = 1; i <= n; i++) {
                await within(new Promise<void>((r) => seen.pongWaiters.push(r)), 5000, "a pong");
                yield { pongs: i };
              }
            },
          },
        };
        disposable = useServer(
          { schema, roots, onConnect: (ctx) => ctx.connectionParams?.deny !== true },
          wss as unknown as Ws,
          50,
        );
        await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
        url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`;
      });

      afterAll(async () => {
        await Promise.all(clients.map((made) => made.dispose()));
        await dispose();
        await within(new Promise((resolve) => httpServer.close(resolve)), 5000, "http close");
      });

      it("answers a query over subprotocol graphql-transport-ws, negotiated on both sides", async () => {
        const made = client();
        let clientProtocol = "";
        made.on("opened", (socket) => (clientProtocol = (socket as WS).protocol));
        const before = seen.protocols.length;
        expect(await run(made, '{ hello(name: "graphql") }')).toEqual([{ hello: "hello graphql" }]);
        expect(clientProtocol).toBe("graphql-transport-ws");
        expect(seen.protocols.slice(before)).toEqual(["graphql-transport-ws"]);
      });

      it("streams a subscription's values in order, then completes", async () => {
        const values = await run<{ count: number }>(client(), "subscription { count(to: 20) }");
        expect(values.map((v) => v.count)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it("the client answers useServer's keep-alive pings (the connection is not terminated)", async () => {
        const values = await run<{ pongs: number }>(client(), "subscription { pongs(n: 3) }");
        expect(values).toEqual([{ pongs: 1 }, { pongs: 2 }, { pongs: 3 }]);
      });

      const CLOSES: Array<[string, number, string, () => unknown, Record<string, unknown>?]> = [
        [
          "no subprotocol offered",
          4406,
          "Subprotocol not acceptable",
          () =>
            class NoProtocol extends peer.Impl {
              constructor(address: string) {
                super(address);
              }
            },
        ],
        [
          "an invalid message",
          4400,
          "Invalid message received",
          () =>
            class BadMessage extends peer.Impl {
              override send(data: unknown): void {
                super.send(String(data).replace("connection_init", "connection_bogus"));
              }
            },
        ],
        ["onConnect refusing", 4403, "Forbidden", () => peer.Impl, { deny: true }],
        [
          "connection_init sent twice",
          4429,
          "Too many initialisation requests",
          () =>
            class InitTwice extends peer.Impl {
              override send(data: unknown): void {
                super.send(data as string);
                if (String(data).includes("connection_init")) super.send(data as string);
              }
            },
        ],
      ];
      for (const [why, code, reason, Impl, params] of CLOSES) {
        it(`closes with ${code} for ${why}: the client's sink gets that close event`, async () => {
          const made = client(Impl(), params);
          const closed = new Promise<{ code: number; reason: string }>((resolve) =>
            made.on("closed", (event) => resolve(event as { code: number; reason: string })),
          );
          const before = seen.closes.length;
          const error = await failure(made);
          expect([error.code, error.reason]).toEqual([code, reason]);
          const event = await within(closed, 5000, "closed");
          expect([event.code, event.reason]).toEqual([code, reason]);
          // The server's side of that connection closed with the same code.
          await serverClosed(before, code, reason);
        });
      }

      it("a client offering only a subprotocol the server does not choose fails the connection (no close code)", async () => {
        const made = client(
          class OldProtocol extends peer.Impl {
            constructor(address: string) {
              super(address, "graphql-ws");
            }
          },
        );
        const error = await failure(made);
        expect(error.type).toBe("error");
        expect(error.code).toBeUndefined();
      });

      it("the client's terminate(): its sink gets 4499 Terminated, and the server the 4499 close", async () => {
        const made = client();
        const before = seen.closes.length;
        const error = within(
          new Promise<{ code?: number; reason?: string }>((resolve) =>
            made.subscribe(
              { query: "subscription { pongs(n: 1000) }" },
              { next() {}, error: (e) => resolve(e as object), complete: () => resolve({}) },
            ),
          ),
          10_000,
          "terminated",
        );
        await within(new Promise((resolve) => made.on("connected", resolve)), 5000, "connected");
        made.terminate();
        const { code, reason } = await error;
        expect([code, reason]).toEqual([4499, "Terminated"]);
        await serverClosed(before, 4499, "Terminated");
      });

      it("dispose() closes open clients with 1001 Going away", async () => {
        // Last: disposing stops this describe's server.
        const made = client(peer.Impl);
        expect(await run(made, "{ hello }")).toEqual([{ hello: "hello you" }]);
        const kept = createClient({
          url,
          webSocketImpl: peer.Impl,
          retryAttempts: 0,
          lazy: false,
          // A non-lazy client reports the close it cannot retry here (default: console.error).
          onNonLazyError: () => {},
        });
        clients.push(kept);
        const opened = within(new Promise((resolve) => kept.on("connected", resolve)), 5000, "connected");
        await opened;
        const closed = within(
          new Promise<{ code: number; reason: string }>((resolve) =>
            kept.on("closed", (event) => resolve(event as { code: number; reason: string })),
          ),
          5000,
          "closed",
        );
        await dispose();
        const event = await closed;
        expect([event.code, event.reason]).toEqual([1001, "Going away"]);
      });
    });
  }
}
