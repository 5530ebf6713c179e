// Our client over HTTP/2 (RFC 8441) on Node and Bun alike (Bun's node:http2 takes the `:protocol`
// pseudo-header), against the foreign node:http2 server of test/support/h2-foreign-server.ts run by the same
// runtime. The Node-only details (flow control, refusals, fallback, the agent's pool) are in
// test/runtimes/node/http2-client.test.ts.
import * as http2 from "node:http2";
import { within } from "../../support/raw-client.js";
import { foreignServer, type ForeignServer } from "../../support/h2-foreign-server.js";
import { throwawayCert } from "../../support/tls-cert.js";
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  host,
  it,
  nextEvent,
  nextMessage,
  runtime,
} from "./harness.js";

const tls = throwawayCert();

describe(`client over HTTP/2 on ${runtime}`, () => {
  let server: ForeignServer;
  let agent: InstanceType<typeof host.Http2Agent>;
  let base: string;

  beforeAll(async () => {
    server = await foreignServer(tls, {
      routes: { "/chat": { protocol: "chat" }, "/deflate": { deflate: true } },
    });
    agent = new host.Http2Agent({ idleTimeout: 60_000 });
    base = `wss://localhost:${server.port}`;
  });
  afterAll(async () => {
    agent.close(true);
    await server.close();
  });

  function open(path: string, protocols: string[] = []) {
    const ws = new host.WebSocket(`${base}${path}`, protocols, { http2: agent, ca: tls.cert });
    return within(
      new Promise<typeof ws>((resolve, reject) => {
        ws.addEventListener("open", () => resolve(ws), { once: true });
        ws.addEventListener("close", (e) => reject(new Error(`closed before open: ${e.code}`)), {
          once: true,
        });
      }),
      5000,
      `open ${path}`,
    );
  }

  it("echoes on two WebSockets sharing one session, with a subprotocol and deflate", async () => {
    const [chat, deflate] = await Promise.all([open("/chat", ["chat"]), open("/deflate")]);
    expect(chat.protocol).toBe("chat");
    expect(deflate.extensions).toMatch(/^permessage-deflate/);
    const records = ["/chat", "/deflate"].map((path) =>
      server.streams.find((r) => r.headers[":path"] === path)!,
    );
    expect(records[0].session === records[1].session).toBe(true);
    expect(records[0].headers[":protocol"]).toBe("websocket");
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 13) & 0xff);
    for (const ws of [chat, deflate]) {
      ws.send(bytes);
      const echoed = await within(nextMessage(ws), 5000, "binary echo");
      expect(Buffer.from(echoed as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
      const text = "ünïcödé ".repeat(3000);
      ws.send(text);
      expect(String(await within(nextMessage(ws), 5000, "text echo"))).toBe(text);
    }
    const compressed = records[1].frames.filter((frame) => frame.opcode === 1 || frame.opcode === 2);
    expect(compressed.every((frame) => frame.rsv === 4 && frame.masked)).toBe(true);
    const closed = nextEvent<CloseEvent>(chat, "close");
    chat.close(1000, "done");
    const event = await within(closed, 5000, "close");
    expect([event.code, event.reason, event.wasClean]).toEqual([1000, "done", true]);
    await within(records[0].closed, 5000, "stream closed");
    expect([records[0].ended, records[0].rstCode]).toEqual([true, 0]);
    // The other WebSocket of the session goes on.
    deflate.send("still open");
    expect(String(await within(nextMessage(deflate), 5000, "echo after the other closed"))).toBe(
      "still open",
    );
    const terminated = nextEvent<CloseEvent>(deflate, "close");
    deflate.terminate();
    expect((await within(terminated, 5000, "terminated")).code).toBe(1006);
    await within(records[1].closed, 5000, "stream reset");
    expect(records[1].rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });
});
