// The Node server as ws's suite specifies it where only Node has the API: attach mode and handleUpgrade
// (any Duplex, once per socket), the constructor's checks, the `WebSocket` option, 'wsClientError',
// `ws._socket`, and close(cb) errors.
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Duplex, PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { WebSocket as WsClient } from "ws";
import WebSocket, { ServerConnection, WebSocketServer } from "../../../runtimes/node/index.js";
import { connectH2, connectHeaders, openStream } from "../../support/h2-peer.js";
import { frame, RawClient, upgradeRequest, within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";

async function httpServer(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A ws client's first message, or the error that ended it. */
function firstMessage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WsClient(url);
    ws.on("message", (data) => {
      resolve(data.toString());
      ws.close();
    });
    ws.on("error", reject);
  });
}

const close = (server: http.Server) => new Promise((resolve) => server.close(resolve));

describe("WebSocketServer as ws's suite specifies it (Node)", () => {
  it("throws ws's error when no mode, or several, is given", () => {
    const message = 'One and only one of the "port", "server", or "noServer" options must be specified';
    expect(() => new (WebSocketServer as unknown as new () => WebSocketServer)()).toThrow(message);
    expect(() => new WebSocketServer({})).toThrow(message);
    expect(() => new WebSocketServer({ port: 0, noServer: true })).toThrow(message);
  });

  it("close() of an attached server removes its 'upgrade' listener: later upgrades reach their own handler", async () => {
    const { server, port } = await httpServer();
    const attachedWss = new WebSocketServer({ server });
    await attachedWss.close();
    expect(server.listenerCount("upgrade")).toBe(0);
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => ws.send("through noServer")),
    );
    expect(await firstMessage(`ws://127.0.0.1:${port}`)).toBe("through noServer");
    await wss.close();
    await close(server);
  });

  it("completes an upgrade over any Duplex, and throws when handleUpgrade is called twice for one socket", async () => {
    const { server, port } = await httpServer();
    const wss = new WebSocketServer({ noServer: true });
    const twice: unknown[] = [];
    server.on("upgrade", (req, socket, head) => {
      const toServer = new PassThrough();
      const toClient = new PassThrough();
      socket.pipe(toServer);
      toClient.pipe(socket);
      const serverSide = Duplex.from({ readable: toServer, writable: toClient });
      wss.handleUpgrade(req, serverSide, head, (ws) => ws.send("over a duplex"));
      try {
        wss.handleUpgrade(req, serverSide, head, () => {});
      } catch (error) {
        twice.push((error as Error).message);
      }
    });
    expect(await firstMessage(`ws://127.0.0.1:${port}`)).toBe("over a duplex");
    expect(twice).toEqual([
      "server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration",
    ]);
    await wss.close();
    await close(server);
  });

  it("constructs connections of the `WebSocket` option: a subclass of ours, or ws's class handed the socket", async () => {
    class Tagged extends ServerConnection {
      get tag(): string {
        return "ours";
      }
    }
    class WsTagged extends WsClient {
      get tag(): string {
        return "ws's";
      }
    }
    for (const [Class, tag] of [
      [Tagged, "ours"],
      [WsTagged, "ws's"],
    ] as const) {
      const wss = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        WebSocket: Class as typeof ServerConnection,
      });
      await new Promise<void>((resolve) => wss.once("listening", resolve));
      wss.on("connection", (ws) => {
        const tagged = ws as unknown as { tag: string; send(data: string): void };
        expect(ws instanceof Class).toBe(true);
        expect(wss.clients.has(ws)).toBe(true);
        tagged.send(tagged.tag);
      });
      expect(await firstMessage(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)).toBe(tag);
      await wss.close();
    }
  });

  it("serves with a subclass of the client class on an HTTP/2 stream and an HTTP/1.1 upgrade of one server, `_socket` set", async () => {
    class Custom extends WebSocket {
      get tag(): string {
        return "custom";
      }
    }
    const { key, cert } = throwawayCert();
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true });
    const wss = new WebSocketServer({ server, WebSocket: Custom });
    const seen: string[] = [];
    // Typed as @types/ws types it: the connection is an instance of the option's class.
    wss.on("connection", (ws: Custom, req) => {
      seen.push(`${req.httpVersion} ${ws instanceof Custom} ${typeof ws._socket?.remoteAddress}`);
      ws.on("message", (data, isBinary) => ws.send(`${ws.tag}: ${data}`, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const { session } = await connectH2(`https://127.0.0.1:${port}`, { ca: cert });
    const peer = await openStream(session, connectHeaders("/"));
    expect(peer.status).toBe(200);
    peer.raw.write(frame(1, "over h2"));
    expect((await peer.raw.readFrame()).payload.toString()).toBe("custom: over h2");
    const ws = new WsClient(`wss://127.0.0.1:${port}`, { ca: cert });
    const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
    ws.once("open", () => ws.send("over 1.1"));
    expect(await within(reply, 3000, "reply")).toBe("custom: over 1.1");
    expect(seen).toEqual(["2.0 true string", "1.1 true string"]);
    ws.terminate();
    session.destroy();
    await wss.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("throws what the `WebSocket` option's constructor throws out of handleUpgrade, as ws, and ends that connection", async () => {
    class Throwing extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        throw new Error("from the subclass");
      }
    }
    class Dialing extends WebSocket {
      constructor() {
        super("ws://127.0.0.1:1", undefined, { reconnect: false });
      }
    }
    const { server, port } = await httpServer();
    for (const [Class, message] of [
      [Throwing, "from the subclass"],
      [Dialing, "the WebSocket option's class must pass its constructor's arguments"],
    ] as const) {
      const wss = new WebSocketServer({ noServer: true, WebSocket: Class });
      const thrown = new Promise<string>((resolve) =>
        server.once("upgrade", (req, socket, head) => {
          try {
            wss.handleUpgrade(req, socket, head, () => resolve("connected"));
          } catch (error) {
            resolve((error as Error).message);
          }
        }),
      );
      const client = new WsClient(`ws://127.0.0.1:${port}`);
      client.on("error", () => {});
      const closed = new Promise<number>((resolve) => client.once("close", resolve));
      expect(await thrown).toContain(message);
      expect(await within(closed, 3000, "client close")).toBe(1006);
      expect(wss.clients.size).toBe(0);
      await wss.close();
    }
    await close(server);
  });

  it("emits 'wsClientError' for a request that breaks a rule, and lets the listener answer", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve) => wss.once("listening", resolve));
    const port = (wss.address() as AddressInfo).port;
    const errors: string[] = [];
    wss.on("wsClientError", (error, socket, req) => {
      errors.push(`${error.message} (${(req as http.IncomingMessage).method})`);
      (socket as Duplex).end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\n\r\n");
    });
    const raw = await RawClient.connect(port);
    raw.write(upgradeRequest(port).replace("GET", "POST"));
    expect(await raw.readHead()).toMatch(/^HTTP\/1\.1 418 /);
    expect(errors).toEqual(["Invalid HTTP method (POST)"]);
    raw.destroy();
    await wss.close();
  });

  it("exposes the connection's net.Socket as ws._socket", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve) => wss.once("listening", resolve));
    wss.on("connection", (ws) => ws.send(String(ws._socket === ws.socket && typeof ws._socket.setNoDelay)));
    expect(await firstMessage(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)).toBe("function");
    await wss.close();
  });

  it("counts in bufferedAmount what the socket holds, on either end: sends the kernel took count no more (ws's socket-queue test)", async () => {
    // Sends of 1 KiB until the kernel holds back (the peer, in this process, reads nothing meanwhile), as
    // ws's suite does: then bufferedAmount is the socket's queue. Counting a tick's sends until the tick's
    // end stopped this loop at the first send, with the socket holding nothing.
    const payload = new Uint8Array(1024).fill(61);
    const fill = (ws: { readonly bufferedAmount: number; send(data: Uint8Array): void }): number => {
      let sends = 0;
      while (ws.bufferedAmount === 0 && sends < 100_000) {
        ws.send(payload);
        sends++;
      }
      return sends;
    };
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve) => wss.once("listening", resolve));
    const server = new Promise<number[]>((resolve) =>
      wss.on("connection", (ws) => {
        const sends = fill(ws);
        resolve([
          sends > 1 ? 1 : 0,
          ws.bufferedAmount > 0 ? 1 : 0,
          ws.bufferedAmount - ws._socket.writableLength,
        ]);
        ws.terminate();
      }),
    );
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    client.on("error", () => {});
    expect(await within(server, 5000, "the server's sends")).toEqual([1, 1, 0]);
    await new Promise((resolve) => client.once("close", resolve));
    const second = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    wss.removeAllListeners("connection");
    wss.on("connection", (ws) => ws._socket.pause());
    const clientSide = new Promise<number[]>((resolve) =>
      second.on("open", () => {
        const sends = fill(second);
        resolve([
          sends > 1 ? 1 : 0,
          second.bufferedAmount > 0 ? 1 : 0,
          second.bufferedAmount - second._socket!.writableLength,
        ]);
        second.terminate();
      }),
    );
    expect(await within(clientSide, 5000, "the client's sends")).toEqual([1, 1, 0]);
    await wss.close();
  });

  it("throws an exception of close(cb)'s callback as uncaught, not as an unhandled rejection", async () => {
    const script = `
      const { WebSocketServer } = await import(${JSON.stringify(new URL("../../../dist/runtimes/node/index.js", import.meta.url).pathname)});
      process.on("uncaughtException", (e) => { console.log("uncaught " + e.message); process.exit(0); });
      process.on("unhandledRejection", (e) => { console.log("rejection " + e.message); process.exit(0); });
      const wss = new WebSocketServer({ noServer: true });
      wss.close(() => { throw new Error("from cb"); });
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    await new Promise((resolve) => child.once("exit", resolve));
    expect(out.trim()).toBe("uncaught from cb");
  });

  it("calls close(cb) on a closed server with ws's error", async () => {
    const wss = new WebSocketServer({ noServer: true });
    await wss.close();
    const error = await new Promise<Error | undefined>((resolve) => wss.close(resolve));
    expect(error?.message).toBe("The server is not running");
  });
});
