// One host suite, two runtimes: the test API and the implementation under test are chosen at run time,
// vitest + runtimes/node under Node, bun:test + runtimes/bun under Bun (`npm run test:bun`).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { nextEvent, nextMessage, openWith } from "../../support/client-events.js";
import type * as Vitest from "vitest";
import type * as Host from "../../../runtimes/bun/index.js";

/** Running under Bun. */
export const isBun = typeof Bun !== "undefined";
/** The runtime's name, for test titles. */
export const runtime = isBun ? "bun" : "node";

const api = (isBun ? await import("bun:test") : await import("vitest")) as unknown as typeof Vitest;
export const { describe, it, expect, beforeAll, afterAll } = api;

/** The host under test, typed by its Bun API (the Node one is the same where these tests look). */
export const host = (isBun
  ? await import("../../../runtimes/bun/index.js")
  : await import("../../../runtimes/node/index.js")) as unknown as typeof Host;

export type WebSocketServer = Host.WebSocketServer;
export type ServerOptions = Host.ServerOptions;
export type ServerConnection = Host.BunServerConnection;
export type WebSocket = Host.WebSocket;
export type ClientOptions = Host.ClientOptions;

/** Our server listening on 127.0.0.1:0. */
export async function listen(
  options: Partial<ServerOptions> = {},
): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new host.WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const port = wss.address()!.port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** Echo every message back as it came (text as text, binary as binary). */
export function echo(ws: ServerConnection): void {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** Our echo server. */
export async function echoServer(options: Partial<ServerOptions> = {}) {
  const server = await listen(options);
  server.wss.on("connection", echo);
  return server;
}

/** Our client, resolved once open (rejects on a close before open). */
export function openClient(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): Promise<WebSocket> {
  return openWith(host.WebSocket, url, protocols, options);
}

export { nextEvent, nextMessage };

/** A `ws` peer in a Node child process (under Bun, `ws` would be Bun's own): see ws-peer.mjs. */
export async function wsPeer(
  args: string[],
): Promise<{ line: () => Promise<string>; stop: () => Promise<void> }> {
  const node = isBun ? "node" : process.execPath;
  const child = spawn(node, [new URL("./ws-peer.mjs", import.meta.url).pathname, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    line: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift()!)
        : new Promise<string>((resolve) => waiters.push(resolve)),
    stop: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
