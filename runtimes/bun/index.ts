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
export {
  type ServerEvents,
  type BroadcastOptions,
  type VerifyClient,
  type VerifyClientInfo,
  type Refusal,
} from "../../bindings/server-core.js";
export {
  ServerConnection,
  type BinaryType,
  type SendOptions,
  type ServerConnectionEvents,
} from "../../bindings/server-connection.js";
export {
  parseWebSocketUrl,
  type ClientOptions,
  type ClientBinaryType,
  type ReconnectOptions,
  type ConnectingDetail,
  type ReconnectingDetail,
  type FinishDetail,
  type WebSocketTarget,
} from "../../bindings/client-core.js";
export { CloseEvent, ErrorEvent, type CloseEventInit, type ErrorEventInit } from "../../bindings/events.js";
export { ReadyState, type SendData } from "../../bindings/session.js";
export { CloseCode, WebSocketProtocolError } from "../../bindings/errors.js";
export { defaultHeartbeat, type HeartbeatOptions } from "../../bindings/heartbeat.js";
export { defaultBackoff, type BackoffOptions } from "../../bindings/backoff.js";
