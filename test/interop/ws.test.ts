// Interop with `ws` (the most used Node implementation), both directions: its server ↔ our client and its
// client ↔ our server, over real sockets on 127.0.0.1.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS, { WebSocketServer as WSServer } from "ws";
import { WebSocket, type ServerConnection, type WebSocketServer } from "../../runtimes/node/index.js";
import { echoServer, nextEvent, nextMessage, openClient } from "../runtimes/node/peers.js";

const SIZES = [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024];

function pattern(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function text(size: number): string {
  return "é".repeat(size >> 1) + (size & 1 ? "a" : "");
}

describe("ws server ↔ our client", () => {
  let server: WSServer;
  let url: string;
  const received: Array<{ data: Buffer; isBinary: boolean }> = [];

  beforeAll(async () => {
    server = new WSServer({ port: 0, host: "127.0.0.1", maxPayload: 64 * 1024 * 1024 });
    await once(server, "listening");
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on("connection", (ws, req) => {
      if (req.url?.startsWith("/fragments")) {
        ws.send("frag", { fin: false });
        ws.send("men", { fin: false });
        ws.send("ted", { fin: true });
        return;
      }
      if (req.url === "/close-4001") return ws.close(4001, "server says bye");
      if (req.url === "/terminate") return ws.terminate();
      if (req.url === "/ping") return ws.ping("are you there");
      ws.on("message", (data, isBinary) => {
        received.push({ data: data as Buffer, isBinary });
        ws.send(data, { binary: isBinary });
      });
    });
  });
  afterAll(async () => {
    for (const ws of server.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const size of SIZES) {
    it(`echoes a ${size}-byte binary message and a ${size}-byte text message`, async () => {
      const ws = await openClient(url);
      const bytes = pattern(size);
      ws.send(bytes);
      const back = (await nextMessage(ws)) as Buffer;
      expect(Buffer.isBuffer(back)).toBe(true);
      expect(back.equals(bytes)).toBe(true);
      const message = text(size);
      ws.send(message);
      expect(await nextMessage(ws)).toBe(message);
      ws.close();
      await nextEvent(ws, "close");
    });
  }

  it("sends fragmented messages (maxFragmentSize) that ws reassembles", async () => {
    const ws = await openClient(url, undefined, { maxFragmentSize: 1000 });
    const bytes = pattern(5500);
    received.length = 0;
    ws.send(bytes);
    expect(((await nextMessage(ws)) as Buffer).equals(bytes)).toBe(true);
    expect(received[0].data.equals(bytes)).toBe(true);
    ws.close();
    await nextEvent(ws, "close");
  });

  it("reassembles a message ws sends in three fragments", async () => {
    const ws = new WebSocket(`${url}/fragments`);
    expect(await nextMessage(ws)).toBe("fragmented");
    ws.close();
    await nextEvent(ws, "close");
  });

  it("delivers binary as ArrayBuffer with binaryType arraybuffer", async () => {
    const ws = await openClient(url);
    ws.binaryType = "arraybuffer";
    ws.send(new Uint8Array([1, 2, 3]));
    const data = await nextMessage(ws);
    expect(data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(data as ArrayBuffer)]).toEqual([1, 2, 3]);
    ws.close();
    await nextEvent(ws, "close");
  });

  it("answers ws's ping with a pong carrying the same payload", async () => {
    const pong = new Promise<Buffer>((resolve) =>
      server.once("connection", (peer) => peer.once("pong", (data) => resolve(data))),
    );
    const ws = new WebSocket(`${url}/ping`);
    const ping = nextEvent<MessageEvent>(ws, "ping");
    expect((await pong).toString()).toBe("are you there");
    expect(Buffer.from((await ping).data).toString()).toBe("are you there");
    ws.close();
    await nextEvent(ws, "close");
  });

  it("gets ws's pong for its ping", async () => {
    const ws = await openClient(url);
    const pong = nextEvent<MessageEvent>(ws, "pong");
    ws.ping("hello");
    expect(Buffer.from((await pong).data).toString()).toBe("hello");
    ws.close();
    await nextEvent(ws, "close");
  });

  it("client-initiated close: ws sees the code and reason, we close cleanly", async () => {
    const peerClose = new Promise<[number, string]>((resolve) =>
      server.once("connection", (peer) =>
        peer.once("close", (code, reason) => resolve([code, reason.toString()])),
      ),
    );
    const ws = await openClient(url);
    ws.close(4000, "client done");
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect(await peerClose).toEqual([4000, "client done"]);
    expect(event.wasClean).toBe(true);
    expect(event.code).toBe(4000);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  it("server-initiated close: our close event has ws's code and reason", async () => {
    const ws = new WebSocket(`${url}/close-4001`);
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([4001, "server says bye", true]);
  });

  it("ws terminating gives 1006, not clean", async () => {
    const ws = new WebSocket(`${url}/terminate`);
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });

  it("close() without a code sends an empty close frame (ws reports 1005)", async () => {
    const peerClose = new Promise<number>((resolve) =>
      server.once("connection", (peer) => peer.once("close", (code) => resolve(code))),
    );
    const ws = await openClient(url);
    ws.close();
    await nextEvent(ws, "close");
    expect(await peerClose).toBe(1005);
  });
});

describe("ws client ↔ our server", () => {
  let wss: WebSocketServer;
  let url: string;
  let last: ServerConnection | undefined;

  beforeAll(async () => {
    const server = await echoServer({ maxPayload: 64 * 1024 * 1024 });
    wss = server.wss;
    url = server.url;
    wss.on("connection", (ws, req) => {
      last = ws;
      if (req.url === "/fragments") ws.send(pattern(3000), { fragmentSize: 1000 });
      if (req.url === "/close-4002") ws.close(4002, "our server says bye");
      if (req.url === "/terminate") ws.terminate();
    });
  });
  afterAll(() => wss.close());

  async function wsClient(path = "/"): Promise<WS> {
    const ws = new WS(url + path, { maxPayload: 64 * 1024 * 1024 });
    await once(ws, "open");
    return ws;
  }

  function message(ws: WS): Promise<[Buffer, boolean]> {
    return new Promise((resolve) =>
      ws.once("message", (data, isBinary) => resolve([data as Buffer, isBinary])),
    );
  }

  for (const size of SIZES) {
    it(`echoes a ${size}-byte binary message and a ${size}-byte text message`, async () => {
      const ws = await wsClient();
      const bytes = pattern(size);
      ws.send(bytes);
      const [back, isBinary] = await message(ws);
      expect(isBinary).toBe(true);
      expect(back.equals(bytes)).toBe(true);
      const words = text(size);
      ws.send(words);
      const [textBack, textIsBinary] = await message(ws);
      expect(textIsBinary).toBe(false);
      expect(textBack.toString()).toBe(words);
      ws.close();
      await once(ws, "close");
    });
  }

  it("reassembles a message ws sends in fragments", async () => {
    const ws = await wsClient();
    ws.send("abc", { fin: false });
    ws.send("def", { fin: false, binary: false });
    ws.send("ghi", { fin: true, binary: false });
    const [back] = await message(ws);
    expect(back.toString()).toBe("abcdefghi");
    ws.close();
    await once(ws, "close");
  });

  it("sends fragmented messages (fragmentSize) that ws reassembles", async () => {
    const ws = new WS(`${url}/fragments`);
    const [back, isBinary] = await message(ws);
    expect(isBinary).toBe(true);
    expect(back.equals(pattern(3000))).toBe(true);
    ws.close();
    await once(ws, "close");
  });

  it("answers ws's ping and gets ws's pong", async () => {
    const ws = await wsClient();
    const pong = once(ws, "pong");
    ws.ping("ping from ws");
    expect(String((await pong)[0])).toBe("ping from ws");
    const theirs = new Promise<Buffer>((resolve) => ws.once("ping", resolve));
    const ours = new Promise<Buffer>((resolve) => last!.once("pong", resolve));
    last!.ping("ping from us");
    expect(String(await theirs)).toBe("ping from us");
    expect(String(await ours)).toBe("ping from us");
    ws.close();
    await once(ws, "close");
  });

  it("ws-initiated close: our connection reports the code and reason", async () => {
    const ws = await wsClient();
    const ours = new Promise<[number, string]>((resolve) =>
      last!.once("close", (code, reason) => resolve([code, reason.toString()])),
    );
    ws.close(4003, "ws done");
    const [code] = await once(ws, "close");
    expect(code).toBe(4003);
    expect(await ours).toEqual([4003, "ws done"]);
  });

  it("server-initiated close: ws gets our code and reason", async () => {
    const ws = new WS(`${url}/close-4002`);
    const [code, reason] = await once(ws, "close");
    expect([code, String(reason)]).toEqual([4002, "our server says bye"]);
  });

  it("our terminate gives ws 1006", async () => {
    const ws = new WS(`${url}/terminate`);
    const [code] = await once(ws, "close");
    expect(code).toBe(1006);
  });

  it("ws terminating gives our connection 1006", async () => {
    const ws = await wsClient();
    const ours = new Promise<number>((resolve) => last!.once("close", (code) => resolve(code)));
    ws.terminate();
    expect(await ours).toBe(1006);
  });

  it("a message past maxPayload is closed with 1009", async () => {
    const { wss: small, url: smallUrl } = await echoServer({ maxPayload: 1000 });
    const ws = new WS(smallUrl);
    await once(ws, "open");
    ws.send(Buffer.alloc(1001));
    const [code] = await once(ws, "close");
    expect(code).toBe(1009);
    await small.close();
  });
});
