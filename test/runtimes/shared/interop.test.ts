// Real peers on Node and Bun alike: `ws` in a Node child process both ways, and under Bun, Bun's own
// WebSocket client against our server and our client against Bun.serve's native WebSocket server.
import { within } from "../../support/raw-client.js";
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
  wsPeer,
} from "./harness.js";

describe(`interop on ${runtime}`, () => {
  it("a ws client (Node) echoes text, binary and 1 MiB through our server and closes with 4002", async () => {
    const { wss, url } = await echoServer();
    const closed = new Promise<[number, string]>((resolve) =>
      wss.on("connection", (ws) =>
        ws.on("close", (code, reason) => resolve([code, Buffer.from(reason).toString()])),
      ),
    );
    const peer = await wsPeer(["client", url]);
    const result = JSON.parse(await within(peer.line(), 10_000, "ws client result"));
    expect(result).toMatchObject({ ok: true, code: 4002, reason: "ws client done" });
    expect(await closed).toEqual([4002, "ws client done"]);
    await peer.stop();
    await wss.close();
  });

  it("our client echoes through a ws server (Node) and gets its close 4001", async () => {
    const peer = await wsPeer(["server"]);
    const { port } = JSON.parse(await within(peer.line(), 10_000, "ws server port"));
    const ws = await openClient(`ws://127.0.0.1:${port}/`);
    ws.binaryType = "arraybuffer";
    ws.send("héllo");
    expect(await nextMessage(ws)).toBe("héllo");
    const big = new Uint8Array(1 << 20).fill(5);
    ws.send(big);
    expect(((await nextMessage(ws)) as ArrayBuffer).byteLength).toBe(big.length);
    ws.close();
    const closing = await openClient(`ws://127.0.0.1:${port}/close-4001`);
    const event = await nextEvent<CloseEvent>(closing, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([4001, "ws says bye", true]);
    await peer.stop();
  });

  it.skipIf(!isBun)("Bun's own WebSocket client talks to our server", async () => {
    const { wss, url } = await echoServer({ protocols: ["chat"] });
    const native = new globalThis.WebSocket(`${url}/native`, ["chat"]);
    native.binaryType = "arraybuffer";
    await nextEvent(native, "open");
    expect(native.protocol).toBe("chat");
    native.send("from bun");
    expect(await nextMessage(native)).toBe("from bun");
    native.send(new Uint8Array(100_000).fill(1));
    expect(((await nextMessage(native)) as ArrayBuffer).byteLength).toBe(100_000);
    const closed = nextEvent<CloseEvent>(native, "close");
    native.close(4000, "native bye");
    expect((await closed).code).toBe(4000);
    await wss.close();
  });

  it.skipIf(!isBun)("our client talks to Bun.serve's native WebSocket server", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        message(ws, message) {
          if (message === "close please") return ws.close(4007, "bun.serve bye");
          ws.send(message);
        },
      },
    });
    const ws = await openClient(`ws://127.0.0.1:${server.port}/`);
    ws.send("to bun.serve");
    expect(await nextMessage(ws)).toBe("to bun.serve");
    ws.send(new Uint8Array(200_000).fill(2));
    expect(((await nextMessage(ws)) as Uint8Array).byteLength).toBe(200_000);
    const closed = nextEvent<CloseEvent>(ws, "close");
    ws.send("close please");
    const event = await closed;
    expect([event.code, event.reason]).toEqual([4007, "bun.serve bye"]);
    server.stop(true);
  });
});
