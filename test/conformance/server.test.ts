// The Autobahn-style cases (cases.ts) against our Node echo server, and against a `ws` echo server as the
// reference (ws passes Autobahn): exact bytes in, exact replies, close codes, and the server ending TCP.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { WebSocketServer as WSServer } from "ws";
import type { WebSocketServer } from "../../runtimes/node/index.js";
import { echoServer } from "../runtimes/node/peers.js";
import { cases, type ConformanceCase } from "./cases.js";
import { check, run } from "./runner.js";

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
