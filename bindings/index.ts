// The runtime-neutral engine API: load the engine, drive connections, the error table.
export {
  Engine,
  compileEngine,
  Result,
  type EngineBuild,
  type EngineExports,
  type EngineOptions,
} from "./engine.js";
export { createEngine, engineBytes } from "./embedded.js";
export { EnginePool, sharedPool, type SlotHandle } from "./pool.js";
export {
  WireConnection,
  Role,
  Opcode,
  type ConnectionHandler,
  type ConnectionOptions,
} from "./connection.js";
export { CloseCode, WebSocketProtocolError, readErrors, callErrors } from "./errors.js";
export { defaults, type WebSocketConfig } from "./config.js";
