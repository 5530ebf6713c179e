// Interop with Debian's python3-websockets (apt), both directions, driven through test/interop/python_peer.py.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, type ServerConnection } from "../../runtimes/node/index.js";
import { echoServer, nextEvent, nextMessage, openClient, within } from "../runtimes/node/peers.js";
import { PYTHON, pythonModuleMissing } from "../support/missing.js";

const PEER = fileURLToPath(new URL("./python_peer.py", import.meta.url));

const missing = pythonModuleMissing("websockets", "python3-websockets");
if (missing) console.warn(`skipping python-websockets interop: ${missing}`);

const SIZES = [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024];

function pattern(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

describe.skipIf(missing)("python-websockets server ↔ our client", () => {
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    child = spawn(PYTHON, [PEER, "server"], { stdio: ["pipe", "pipe", "inherit"] });
    const [line] = (await within(once(child.stdout!, "data"), 10_000, "python server port")) as [Buffer];
    url = `ws://127.0.0.1:${Number(String(line).trim())}`;
  });
  afterAll(async () => {
    const exited = once(child, "exit");
    child.stdin!.end();
    await within(exited, 5000, "python server exits").catch(() => child.kill());
  });

  for (const size of SIZES) {
    it(`echoes ${size}-byte binary and text messages`, async () => {
      const ws = await openClient(url);
      ws.send(pattern(size));
      expect(((await nextMessage(ws)) as Buffer).equals(pattern(size))).toBe(true);
      const words = "é".repeat(size >> 1) + (size & 1 ? "a" : "");
      ws.send(words);
      expect(await nextMessage(ws)).toBe(words);
      ws.close(1000);
      expect((await nextEvent<CloseEvent>(ws, "close")).wasClean).toBe(true);
    });
  }

  it("sends fragmented messages and reassembles python's fragments", async () => {
    const ws = new WebSocket(`${url}/fragments`, [], { maxFragmentSize: 7 });
    expect(await nextMessage(ws)).toBe("fragmented");
    ws.send("x".repeat(50));
    expect(await nextMessage(ws)).toBe("x".repeat(50));
    ws.close(1000);
    await nextEvent(ws, "close");
  });

  it("answers python's ping, and gets python's pong", async () => {
    const ws = new WebSocket(`${url}/ping`);
    const ping = await nextEvent<MessageEvent>(ws, "ping");
    expect(Buffer.from(ping.data).toString()).toBe("from python");
    const pong = nextEvent<MessageEvent>(ws, "pong");
    ws.ping("from node");
    expect(Buffer.from((await pong).data).toString()).toBe("from node");
    ws.close(1000);
    await nextEvent(ws, "close");
  });

  it("server-initiated close: code and reason arrive, cleanly", async () => {
    const ws = new WebSocket(`${url}/close`);
    const event = await nextEvent<CloseEvent>(ws, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([4001, "python server bye", true]);
  });
});

describe.skipIf(missing)("python-websockets client ↔ our server", () => {
  it("echoes every size, fragments, ping/pong, and a client-initiated close", async () => {
    const { wss, url } = await echoServer({ maxPayload: 64 * 1024 * 1024 });
    const closed = new Promise<[number, string]>((resolve) =>
      wss.once("connection", (ws: ServerConnection) =>
        ws.once("close", (code, reason) => resolve([code, reason.toString()])),
      ),
    );
    const child = spawn(PYTHON, [PEER, "client", `${url}/`], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const [code] = (await within(once(child, "exit"), 60_000, "python client")) as [number];
    expect(code).toBe(0);
    const results = JSON.parse(out) as Record<string, unknown>;
    // python reports the close frame it received: the engine echoes the peer's code and reason.
    const expected: Record<string, unknown> = { fragmented: true, pong: true, close: [4000, "python done"] };
    for (const size of SIZES) expected[`binary ${size}`] = expected[`text ${size}`] = true;
    expect(results).toEqual(expected);
    expect(await closed).toEqual([4000, "python done"]);
    await wss.close();
  });
});
