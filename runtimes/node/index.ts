// wasmsocket for Node: a ws-shaped server and a WHATWG client, both framed by the Wasm engine.
export {
  WebSocketServer,
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
export {
  ServerConnection,
  type BinaryType,
  type SendOptions,
  type ServerConnectionEvents,
} from "./server-connection.js";
export {
  WebSocket,
  parseWebSocketUrl,
  type ClientOptions,
  type ClientBinaryType,
  type ReconnectOptions,
  type ConnectingDetail,
  type ReconnectingDetail,
  type FinishDetail,
  type WebSocketTarget,
} from "./client.js";
export { CloseEvent, ErrorEvent, type CloseEventInit, type ErrorEventInit } from "./events.js";
export { ReadyState, type SendData } from "./transport.js";
export { CloseCode, WebSocketProtocolError } from "../../bindings/errors.js";
export { defaultHeartbeat, type HeartbeatOptions } from "../../bindings/heartbeat.js";
export { defaultBackoff, type BackoffOptions } from "../../bindings/backoff.js";
