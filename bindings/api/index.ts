// The runtime-neutral engine API: load the engine, drive connections, the error table.
export {
  Engine,
  compileEngine,
  Result,
  type EngineBuild,
  type EngineExports,
  type EngineOptions,
} from "../engine/engine.js";
export { createEngine, engineBytes } from "../engine/embedded.js";
export { EnginePool, sharedPool, type SlotHandle } from "../engine/pool.js";
export {
  WireConnection,
  Role,
  Opcode,
  type ConnectionHandler,
  type ConnectionOptions,
} from "../protocol/connection.js";
export { CloseCode, WebSocketProtocolError, readErrors, callErrors } from "../engine/errors.js";
export { defaults, type WebSocketConfig } from "../policies/config.js";
