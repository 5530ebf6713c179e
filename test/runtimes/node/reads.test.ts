// How the Node server reads: plain TCP sockets read straight into the engine's input area (Node's
// user-buffer mode, switched on for the socket node:http made), after any bytes node:http already holds.
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocketServer, type ServerConnection } from "../../../runtimes/node/index.js";
import { echo, echoServer, frame, listen, openClient, RawClient, within } from "./peers.js";

function request(port: number): string {
  return (
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/** Read the 101 and then `count` frames; their payloads as text. */
async function texts(raw: RawClient, count: number): Promise<string[]> {
  await raw.readHead();
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push((await raw.readFrame()).payload.toString());
  return out;
}

describe("Node server reads", () => {
  it("reads a ws:// connection into engine memory (no 'data' listener) and echoes 0 B to 1 MiB intact", async () => {
    const { wss, url } = await echoServer();
    const connected = once(wss, "connection");
    const ws = await openClient(url);
    const [peer] = (await connected) as [ServerConnection];
    expect(peer.socket.listenerCount("data")).toBe(0);
    ws.binaryType = "arraybuffer";
    for (const size of [0, 1, 125, 126, 65535, 65536, 65546, 200_000, 1 << 20]) {
      const sent = Buffer.alloc(size);
      for (let i = 0; i < size; i++) sent[i] = (i * 7 + size) & 255;
      const got = new Promise<ArrayBuffer>((resolve) =>
        ws.addEventListener("message", (e) => resolve((e as MessageEvent).data as ArrayBuffer), {
          once: true,
        }),
      );
      ws.send(sent);
      expect(Buffer.from(await got).equals(sent)).toBe(true);
    }
    ws.close();
    await wss.close();
  });

  it("delivers frames sent with the request and during an async verifyClient first, in order", async () => {
    const { wss, port } = await listen({
      verifyClient: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 200)),
    });
    wss.on("connection", echo);
    const raw = await RawClient.connect(port);
    raw.write(Buffer.concat([Buffer.from(request(port)), frame(1, "a"), frame(1, "b")]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.write(Buffer.concat([frame(1, "c"), frame(1, "d")]));
    const got = texts(raw, 5);
    await new Promise((resolve) => setTimeout(resolve, 250));
    raw.write(frame(1, "e"));
    expect(await within(got, 5000, "five echoes")).toEqual(["a", "b", "c", "d", "e"]);
    raw.destroy();
    await wss.close();
  });

  it("noServer: bytes that queued before a late handleUpgrade are delivered first", async () => {
    const wss = new WebSocketServer({ noServer: true });
    const server = http.createServer();
    server.on("upgrade", (req, socket, head) =>
      setTimeout(() => wss.handleUpgrade(req, socket, head, (ws) => echo(ws)), 150),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const raw = await RawClient.connect(port);
    raw.write(request(port));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.write(Buffer.concat([frame(1, "x"), frame(2, Buffer.alloc(70_000, 1)), frame(1, "y")]));
    await raw.readHead();
    const frames = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame()];
    expect(frames.map((f) => f.payload.length)).toEqual([1, 70_000, 1]);
    expect(frames[0].payload.toString() + frames[2].payload.toString()).toBe("xy");
    raw.destroy();
    await wss.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it("a peer's FIN still reaches the session: the connection closes with 1006", async () => {
    const { wss, port } = await listen();
    const connected = once(wss, "connection");
    const raw = await RawClient.open(port);
    const [peer] = (await connected) as [ServerConnection];
    const closed = once(peer, "close");
    raw.socket.end();
    const [code] = await within(closed, 5000, "server close event");
    expect(code).toBe(1006);
    expect(await raw.closed(5000)).toBe(true);
    await wss.close();
  });
});
