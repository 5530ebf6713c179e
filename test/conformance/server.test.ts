// The Autobahn-style cases (cases.ts) against our Node echo server, and against a `ws` echo server as the
// reference (ws passes Autobahn): exact bytes in, exact replies, close codes, and the server ending TCP.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer as WSServer } from "ws";
import type { WebSocketServer } from "../../runtimes/node/index.js";
import { echoServer, RawClient } from "../runtimes/node/peers.js";
import { cases, Op, type ConformanceCase, type Reply } from "./cases.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run one case against the echo server on `port`: what came back, normalized like `Reply`. */
async function run(port: number, test: ConformanceCase): Promise<{ replies: Reply[]; tcpClosed: boolean }> {
  const raw = await RawClient.open(port);
  try {
    // An immediate close goes out in the same write as the rest ("all sent in one chop").
    const pieces = test.immediateClose ? [Buffer.concat(test.send())] : test.send();
    // A final close waits for the replies before it, unless the case sends it at once.
    const last = pieces.at(-1)!;
    const deferred =
      !test.immediateClose && test.expect.length > 1 && last[0] === (0x80 | Op.Close)
        ? pieces.pop()
        : undefined;
    for (const piece of pieces) {
      raw.write(piece);
      if (test.pause) await sleep(test.pause);
    }
    const replies: Reply[] = [];
    let parts: Buffer[] = [];
    let messageOpcode = 0;
    while (replies.length < test.expect.length) {
      if (deferred && replies.length === test.expect.length - 1) raw.write(deferred);
      const frame = await raw.readFrame(10_000);
      if (frame.opcode === Op.Close) {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        replies.push({ close: code, reason: frame.payload.subarray(2).toString() });
        break;
      }
      if (frame.opcode === Op.Pong) {
        replies.push({ pong: frame.payload });
        continue;
      }
      if (frame.opcode !== Op.Continuation) messageOpcode = frame.opcode;
      parts.push(frame.payload);
      if (!frame.fin) continue;
      const data = Buffer.concat(parts);
      parts = [];
      replies.push(messageOpcode === Op.Text ? { text: data.toString() } : { binary: data });
    }
    const final = test.expect.at(-1);
    const tcpClosed = final && "close" in final ? await raw.closed(5000) : true;
    return { replies, tcpClosed };
  } finally {
    raw.destroy();
  }
}

/** Compare with `expect` semantics: close codes may list alternatives, reasons only when given. */
function check(test: ConformanceCase, result: { replies: Reply[]; tcpClosed: boolean }): void {
  const normalized = result.replies.map((reply, i) => {
    const wanted = test.expect[i];
    if (!("close" in reply) || !wanted || !("close" in wanted)) return reply;
    const codes = Array.isArray(wanted.close) ? wanted.close : [wanted.close];
    return {
      close: codes.includes(reply.close as number) ? wanted.close : reply.close,
      ...(wanted.reason !== undefined ? { reason: reply.reason } : {}),
    };
  });
  const summarize = (r: Reply) =>
    "text" in r && r.text.length > 64
      ? { text: `${r.text.length} chars`, hash: r.text.slice(0, 8) + r.text.slice(-8) }
      : "binary" in r
        ? { binary: `${r.binary.length} bytes`, sum: r.binary.reduce((s, b) => (s * 31 + b) >>> 0, 0) }
        : r;
  expect(normalized.map(summarize)).toEqual(test.expect.map(summarize));
  expect(result.tcpClosed).toBe(true);
}

interface Target {
  name: string;
  port: (maxPayload?: number) => number;
  skip: (test: ConformanceCase) => string | undefined;
}

function suite(target: () => Target, oursUnderTest: boolean): void {
  for (const test of cases) {
    const body = async (context: { skip: (note?: string) => void }) => {
      const t = target();
      const reason = t.skip(test);
      if (reason) return context.skip(reason);
      check(test, await run(t.port(test.maxPayload), test));
    };
    const name = `${test.id} ${test.title}`;
    if (test.knownIssue && oursUnderTest) it.fails(`${name} [known issue: ${test.knownIssue}]`, body);
    else it(name, body);
  }
}

describe("conformance: our Node echo server", () => {
  let main: WebSocketServer;
  let limited: WebSocketServer;
  let ports: [number, number];
  beforeAll(async () => {
    const a = await echoServer({ maxPayload: 64 * 1024 * 1024, heartbeat: false });
    const b = await echoServer({ maxPayload: 1000, heartbeat: false });
    [main, limited, ports] = [a.wss, b.wss, [a.port, b.port]];
  });
  afterAll(async () => {
    await Promise.all([main.close(), limited.close()]);
  });
  suite(
    () => ({
      name: "wasmsocket",
      port: (maxPayload) => (maxPayload ? ports[1] : ports[0]),
      skip: () => undefined,
    }),
    true,
  );
});

describe("conformance: ws echo server (reference)", () => {
  let servers: WSServer[];
  let ports: number[];
  beforeAll(async () => {
    servers = [64 * 1024 * 1024, 1000].map((maxPayload) => {
      const server = new WSServer({ port: 0, host: "127.0.0.1", maxPayload });
      server.on("connection", (ws) => {
        // ws reports each protocol violation it closes for as an 'error' event; the cases expect them.
        ws.on("error", () => {});
        ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
      return server;
    });
    await Promise.all(servers.map((server) => once(server, "listening")));
    ports = servers.map((server) => (server.address() as AddressInfo).port);
  });
  afterAll(async () => {
    for (const server of servers) for (const ws of server.clients) ws.terminate();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  });
  suite(
    () => ({
      name: "ws",
      port: (maxPayload) => (maxPayload ? ports[1] : ports[0]),
      skip: (test) => test.oursOnly,
    }),
    false,
  );
});
