// The public names every host's index exports besides its own WebSocketServer, WebSocket and
// ServerConnection: one list, so the Node and Bun packages cannot drift apart.
export { type BinaryType, type SendOptions, type ServerConnectionEvents } from "./server-connection.js";
export {
  parseWebSocketUrl,
  type ClientOptions,
  type ClientBinaryType,
  type ReconnectOptions,
  type ConnectingDetail,
  type ReconnectingDetail,
  type FinishDetail,
  type WebSocketTarget,
} from "./client-core.js";
export {
  CloseEvent,
  ErrorEvent,
  FragmentEvent,
  type CloseEventInit,
  type ErrorEventInit,
  type FragmentEventInit,
} from "./events.js";
export { ReadyState } from "../protocol/ready-state.js";
export type { SendData } from "../protocol/send-data.js";
export { CloseCode, WebSocketProtocolError } from "../engine/errors.js";
export { defaultHeartbeat, type HeartbeatOptions } from "../policies/heartbeat.js";
export { defaultBackoff, type BackoffOptions } from "../policies/backoff.js";
