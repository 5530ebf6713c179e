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
export { WebSocket } from "./client.js";
export { InProcessAdapter, type PubSubAdapter, type PubSubHub } from "../../bindings/pubsub.js";
export type { PublishOptions } from "../../bindings/server-connection.js";
export * from "../../bindings/host-api.js";
