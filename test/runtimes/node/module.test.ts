// ws's module shape, from CommonJS and ESM, on Node and Bun: the package's own name resolved as a user's
// code resolves it (package.json "exports"), in a child process per case.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");
const bun = join(root, "node_modules", ".bin", "bun");

/** What the module shape looks like from `code`, printed as JSON by the child. */
function shape(runtime: string, args: string[]): unknown {
  return JSON.parse(execFileSync(runtime, args, { cwd: root, encoding: "utf8", timeout: 20_000 }));
}

const CJS = `
const WebSocket = require("wasmsocket");
const { WebSocketServer, createWebSocketStream } = require("wasmsocket");
const wss = new WebSocket.Server({ host: "127.0.0.1", port: 0 }, () => {
  const ws = new WebSocket("ws://127.0.0.1:" + wss.address().port);
  ws.on("open", () => ws.send("hi"));
  ws.on("message", (data, isBinary) => {
    console.log(JSON.stringify({
      type: typeof WebSocket, name: WebSocket.name, server: WebSocket.Server === WebSocketServer,
      same: WebSocket.WebSocket === WebSocket, stream: typeof createWebSocketStream,
      statics: WebSocket.createWebSocketStream === createWebSocketStream, OPEN: WebSocket.OPEN,
      echo: String(data), isBinary,
    }));
    ws.close();
    wss.close();
  });
});
wss.on("connection", (socket) => socket.on("message", (d, b) => socket.send(d, { binary: b })));
`;

const ESM = `
import WebSocket, { WebSocketServer, WebSocket as Named, createWebSocketStream } from "wasmsocket";
console.log(JSON.stringify({
  type: typeof WebSocket, same: WebSocket === Named, server: WebSocket.Server === WebSocketServer,
  stream: WebSocket.createWebSocketStream === createWebSocketStream,
}));
`;

const NODE_HOST_H2 = `
import { WebSocketServer } from "wasmsocket/node";
import http2 from "node:http2";
const server = http2.createServer();
const wss = new WebSocketServer({ server });
server.listen(0, "127.0.0.1", () => {
  const client = http2.connect("http://127.0.0.1:" + server.address().port);
  client.on("remoteSettings", (settings) => {
    console.log(JSON.stringify({ enableConnectProtocol: settings.enableConnectProtocol }));
    client.close();
    wss.close();
    server.close();
    process.exit(0);
  });
});
`;

describe("module shape", () => {
  it("wasmsocket/node is the Node host on Node and on Bun, attaching to node:http2", () => {
    const dir = join(root, "test", "runtimes", "node");
    const run = (runtime: string, args: string[]) =>
      JSON.parse(execFileSync(runtime, args, { cwd: dir, encoding: "utf8", timeout: 20_000 }));
    expect(run(process.execPath, ["--input-type=module", "-e", NODE_HOST_H2])).toEqual({
      enableConnectProtocol: true,
    });
    expect(run(bun, ["-e", NODE_HOST_H2])).toEqual({ enableConnectProtocol: true });
  });

  it("require('wasmsocket') on Node is the client class carrying Server, WebSocketServer, WebSocket and createWebSocketStream", () => {
    expect(shape(process.execPath, ["-e", CJS])).toEqual({
      type: "function",
      name: "WebSocket",
      server: true,
      same: true,
      stream: "function",
      statics: true,
      OPEN: 1,
      echo: "hi",
      isBinary: false,
    });
  });

  it("import WebSocket from 'wasmsocket' on Node is the same class as the named export", () => {
    expect(shape(process.execPath, ["--input-type=module", "-e", ESM])).toEqual({
      type: "function",
      same: true,
      server: true,
      stream: true,
    });
  });

  it("require and import on Bun give the same shape", () => {
    expect(shape(bun, ["-e", CJS])).toMatchObject({ type: "function", server: true, echo: "hi" });
    const dir = join(root, "test", "runtimes", "node");
    expect(
      JSON.parse(execFileSync(bun, ["-e", ESM], { cwd: dir, encoding: "utf8", timeout: 20_000 })),
    ).toEqual({ type: "function", same: true, server: true, stream: true });
  });
});
