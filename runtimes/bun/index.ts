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
export { WebSocket } from "./client.js";
export { InProcessAdapter, type PubSubAdapter, type PubSubHub } from "../../bindings/pubsub.js";
export type { PublishOptions } from "../../bindings/server-connection.js";
export {
  type ServerEvents,
  type BroadcastOptions,
  type VerifyClient,
  type VerifyClientInfo,
  type Refusal,
} from "../../bindings/server-core.js";
export { ServerConnection } from "../../bindings/server-connection.js";
export * from "../../bindings/host-api.js";
