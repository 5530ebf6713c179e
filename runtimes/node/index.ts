// wasmsocket for Node: a ws-shaped server and a WHATWG client, both framed by the Wasm engine.
export {
  WebSocketServer,
  ServerConnection,
  rawRequestHead,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_HEADER_SIZE,
  type ServerOptions,
  type ServerEvents,
  type BroadcastOptions,
  type VerifyClient,
  type VerifyClientInfo,
  type Refusal,
} from "./server.js";
export { InProcessAdapter, type PubSubAdapter, type PubSubHub } from "../../bindings/pubsub.js";
export type { PublishOptions } from "../../bindings/server-connection.js";
export * from "../../bindings/host-api.js";

// ws's module shape: the client class is the default export and carries the rest, so
// `import WebSocket from "wasmsocket"` and `require("wasmsocket")` (the CommonJS build) read as ws's do.
import { WebSocket as Client } from "./client.js";
import { WebSocketServer as Server } from "./server.js";
import { createWebSocketStream } from "./stream.js";

/** The client class with ws's statics: `WebSocket.Server`, `.WebSocketServer`, `.WebSocket`, `.createWebSocketStream`. */
export const WebSocket = Object.defineProperties(Client, {
  Server: { value: Server, enumerable: true, writable: true, configurable: true },
  WebSocketServer: { value: Server, enumerable: true, writable: true, configurable: true },
  WebSocket: { value: Client, enumerable: true, writable: true, configurable: true },
  createWebSocketStream: {
    value: createWebSocketStream,
    enumerable: true,
    writable: true,
    configurable: true,
  },
}) as typeof Client & {
  readonly Server: typeof Server;
  readonly WebSocketServer: typeof Server;
  readonly WebSocket: typeof Client;
  readonly createWebSocketStream: typeof createWebSocketStream;
};
export type WebSocket = Client;
export { createWebSocketStream };
export type { StreamableWebSocket } from "./stream.js";
export default WebSocket;
