// Test peers for the Node host: our server and client opened on ephemeral ports, and a raw TCP client
// that writes exact bytes and reads exact frames (for conformance and bad-input tests).
import { once } from "node:events";
import { nextEvent, nextMessage as nextMessageOf, openWith } from "../../support/client-events.js";
import {
  WebSocket,
  WebSocketServer,
  type ClientOptions,
  type ServerConnection,
  type ServerOptions,
} from "../../../runtimes/node/index.js";

/** Our server listening on 127.0.0.1:0. */
export async function listen(
  options: ServerOptions = {},
): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await once(wss, "listening");
  const address = wss.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** Echo every message back as it came (text as text, binary as binary). */
export function echo(ws: ServerConnection): void {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
}

/** Our echo server. */
export async function echoServer(options: ServerOptions = {}) {
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
  return openWith(WebSocket, url, protocols, options);
}

/** The next message's data on our client. */
export function nextMessage(ws: WebSocket): Promise<string | Buffer | ArrayBuffer> {
  return nextMessageOf<string | Buffer | ArrayBuffer>(ws);
}

export { nextEvent };

// The raw client lives in test/support so the shared Node/Bun suite uses it too.
export {
  within,
  frame,
  closePayload,
  RawClient,
  parseFrame,
  type RawFrame,
} from "../../support/raw-client.js";
