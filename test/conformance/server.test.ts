// The Autobahn-style cases (cases.ts) against our Node echo server, over TCP and over HTTP/2 streams, and
// against a `ws` echo server as the reference (ws passes Autobahn): exact bytes in, exact replies, close
// codes, and the server ending TCP (or the stream).
import { once } from "node:events";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, it } from "vitest";
import { WebSocketServer as WSServer } from "ws";
import { WebSocketServer } from "../../runtimes/node/index.js";
import { connectH2, connectHeaders, openStream } from "../support/h2-peer.js";
import type { RawClient } from "../support/raw-client.js";
import { throwawayCert } from "../support/tls-cert.js";
import { echoServer } from "../runtimes/node/peers.js";
import { cases, type ConformanceCase } from "./cases.js";
import { check, run } from "./runner.js";

interface Target {
  name: string;
  port: (maxPayload?: number) => number | (() => Promise<RawClient<Duplex>>);
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

describe("conformance: our Node echo server over HTTP/2 streams (RFC 8441)", () => {
  const WINDOW = 6 * 1024 * 1024;
  let server: http2.Http2SecureServer;
  let session: http2.ClientHttp2Session;
  const servers: WebSocketServer[] = [];
  beforeAll(async () => {
    const { key, cert } = throwawayCert();
    // Windows as Chromium's, so the 16 MiB cases are not a 64 KiB window per round trip.
    server = http2.createSecureServer({ key, cert, settings: { initialWindowSize: WINDOW } });
    server.on("session", (s) => s.setLocalWindowSize(WINDOW * 2));
    for (const [path, maxPayload] of [
      ["/main", 64 * 1024 * 1024],
      ["/limited", 1000],
    ] as const) {
      const wss = new WebSocketServer({ server, path, maxPayload, heartbeat: false });
      wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
      servers.push(wss);
    }
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ({ session } = await connectH2(origin, { ca: cert, settings: { initialWindowSize: WINDOW } }));
    session.setLocalWindowSize(WINDOW * 2);
  });
  afterAll(async () => {
    session.destroy();
    await Promise.all(servers.map((wss) => wss.close()));
    await new Promise((resolve) => server.close(resolve));
  });
  const stream = (path: string) => async () => (await openStream(session, connectHeaders(path))).raw;
  suite(
    () => ({
      name: "wasmsocket over HTTP/2",
      port: (maxPayload) => stream(maxPayload ? "/limited" : "/main"),
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
