// The package's `browser` entry: the reconnecting client over the native WebSocket, and the engine
// (loaded from the embedded builds, no fs or fetch) for code that frames bytes itself.
export {
  WebSocketClient,
  WebSocketClient as WebSocket,
  type ClientOptions,
  type ClientEventMap,
  type ConnectingDetail,
  type FinishDetail,
  type HeartbeatOptions,
  type ReconnectingDetail,
  type SendData,
} from "./client.js";
export { backoffDelay, defaultBackoff, type BackoffOptions } from "../../bindings/policies/backoff.js";
export { createEngine, engineBytes } from "../../bindings/engine/embedded.js";
export { Engine, type EngineBuild, type EngineOptions } from "../../bindings/engine/engine.js";
export {
  WireConnection,
  Role,
  Opcode,
  type ConnectionHandler,
  type ConnectionOptions,
} from "../../bindings/protocol/connection.js";
export { CloseCode, WebSocketProtocolError } from "../../bindings/engine/errors.js";
