// ws's module shape, for every host's package entry: the client class is the default export and carries the
// server class and createWebSocketStream, so `import WebSocket from "wasmsocket"` and `require("wasmsocket")`
// (the CommonJS build) read as ws's do.

/** The client class with ws's statics: `.Server`, `.WebSocketServer`, `.WebSocket`, `.createWebSocketStream`. */
export type WsModule<C, S, F> = C & {
  readonly Server: S;
  readonly WebSocketServer: S;
  readonly WebSocket: C;
  readonly createWebSocketStream: F;
};

/** Attach ws's statics to `Client` (assignable, as ws's own index assigns them). */
export function wsModule<C extends object, S, F>(
  Client: C,
  Server: S,
  createWebSocketStream: F,
): WsModule<C, S, F> {
  const field = (value: unknown): PropertyDescriptor => ({
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return Object.defineProperties(Client, {
    Server: field(Server),
    WebSocketServer: field(Server),
    WebSocket: field(Client),
    createWebSocketStream: field(createWebSocketStream),
  }) as WsModule<C, S, F>;
}
