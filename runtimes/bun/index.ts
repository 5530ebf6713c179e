// wasmsocket for Bun: the same ws-shaped server and WHATWG client as on Node, over Bun.listen/Bun.connect.
export {
  WebSocketServer,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_HEADER_SIZE,
  type ServerOptions,
  type ServerTlsOptions,
  type UpgradeRequestInfo,
  type BunServerConnection,
} from "./server.js";
export { InProcessAdapter, type PubSubAdapter, type PubSubHub } from "../../bindings/protocol/pubsub.js";
export type { PublishOptions } from "../../bindings/api/server-connection.js";
export {
  type ServerEvents,
  type BroadcastOptions,
  type VerifyClient,
  type VerifyClientInfo,
  type Refusal,
} from "../../bindings/api/server-core.js";
export { ServerConnection } from "../../bindings/api/server-connection.js";
export * from "../../bindings/api/host-api.js";
export { EMPTY_BUFFER } from "../node/buffer.js";
export {
  Http2Agent,
  type Http2AgentOptions,
  type Http2Option,
  type Http2Response,
} from "../node/http2-client.js";

// ws's module shape (bindings/api/ws-module.ts): the client class is the default export and carries the rest.
import { wsModule } from "../../bindings/api/ws-module.js";
import { WebSocket as Client } from "./client.js";
import { WebSocketServer as Server } from "./server.js";
import { createWebSocketStream } from "../node/stream.js";

/** The client class with ws's statics: `WebSocket.Server`, `.WebSocketServer`, `.WebSocket`, `.createWebSocketStream`. */
export const WebSocket = wsModule(Client, Server, createWebSocketStream);
export type WebSocket = Client;
export { createWebSocketStream };
export type { StreamableWebSocket } from "../node/stream.js";
export default WebSocket;
