// socket.io on Bun: engine.io's `wsEngine` is the package's main export (whose WebSocketServer, given
// engine.io's `noServer`, is the Node host's) or the Node host's WebSocketServer (wasmsocket/node), which runs
// on Bun's node:http. The peer is socket.io-client, whose `ws` is Bun's own under Bun. Node runs the full
// matrix (ESM and CommonJS, deflate on and off, ws as reference) in test/interop/ecosystem.test.ts.
import { execFile } from "node:child_process";
import * as http from "node:http";
import { join } from "node:path";
import { Server } from "socket.io";
import type { Socket as ServerSocket } from "socket.io";
import { WebSocketServer as NodeHostServer } from "../../../runtimes/node/index.js";
import { ioClient, nextDisconnect, nextIoEvent, startIo, transportOf } from "../../support/socketio.js";
import { describe, expect, host, isBun, it, runtime } from "./harness.js";

const root = join(import.meta.dirname, "..", "..", "..");

describe(`socket.io on ${runtime} with wsEngine: the Node host's WebSocketServer`, () => {
  for (const [engineName, engine] of [
    ["the main export", host.WebSocketServer],
    ["wasmsocket/node", NodeHostServer],
  ] as const)
    for (const deflate of [false, true]) {
      it.skipIf(!isBun)(
        `${engineName}: websocket and polling→websocket clients: acks, binary, broadcast, disconnects (deflate ${deflate ? "on" : "off"})`,
        async () => {
          const server = await startIo({ wsEngine: engine, perMessageDeflate: deflate });
          const sockets = new Map<string, ServerSocket>();
          server.io.on("connection", (socket) => {
            sockets.set(socket.id, socket);
            socket.on("echo", (data: unknown, ack: (data: unknown) => void) => ack(data));
            socket.on("shout", (data: unknown) => server.io.emit("news", data));
            socket.on("kick", () => socket.disconnect(true));
          });
          try {
            const direct = await ioClient(server.url, ["websocket"]);
            const upgraded = await ioClient(server.url, ["polling", "websocket"]);
            expect([transportOf(direct), transportOf(upgraded)]).toEqual(["websocket", "websocket"]);
            // The server's side switches once the client's upgrade packet arrives, after the client's event.
            const peer = sockets.get(upgraded.id!)!;
            for (let i = 0; i < 500 && peer.conn.transport.name !== "websocket"; i++)
              await new Promise((r) => setTimeout(r, 10));
            expect(peer.conn.transport.name).toBe("websocket");
            const text = "héllo ✓".repeat(500);
            expect(await direct.timeout(5000).emitWithAck("echo", text)).toBe(text);
            const payload = Buffer.alloc(50_000, 7);
            const back = (await upgraded.timeout(5000).emitWithAck("echo", { payload })) as {
              payload: Buffer;
            };
            expect(Buffer.from(back.payload).equals(payload)).toBe(true);
            const heard = [direct, upgraded].map((socket) => nextIoEvent(socket, "news"));
            direct.emit("shout", "to all");
            expect((await Promise.all(heard)).map(([data]) => data)).toEqual(["to all", "to all"]);
            const kicked = nextDisconnect(direct);
            direct.emit("kick");
            expect(await kicked).toBe("io server disconnect");
            const left = nextDisconnect(upgraded);
            upgraded.disconnect();
            expect(await left).toBe("io client disconnect");
          } finally {
            await server.close();
          }
          expect(server.httpServer.listening).toBe(false);
        },
      );
    }

  it.skipIf(!isBun)("io.close() with clients connected: the app exits by itself", async () => {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        [join(root, "test", "interop", "socketio-exit.cjs"), "import", "wasmsocket/node", "deflate"],
        { cwd: root, timeout: 25_000, encoding: "utf8" },
        (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
      );
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ engine: true, httpClosed: true, listening: false });
  });
});
