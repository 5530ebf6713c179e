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
export { InProcessAdapter, type PubSubAdapter, type PubSubHub } from "../../bindings/protocol/pubsub.js";
export type { PublishOptions } from "../../bindings/api/server-connection.js";
export * from "../../bindings/api/host-api.js";

export type { NodeClientOptions, NodeClientEvents } from "./client.js";
export { EMPTY_BUFFER } from "./buffer.js";
export { Http2Agent, type Http2AgentOptions, type Http2Option, type Http2Response } from "./http2-client.js";

// ws's module shape (bindings/api/ws-module.ts): the client class is the default export and carries the rest.
import type { AddressInfo as NetAddressInfo } from "node:net";
import { wsModule } from "../../bindings/api/ws-module.js";
import type { CloseEvent as OurCloseEvent, ErrorEvent as OurErrorEvent } from "../../bindings/api/events.js";
import type { PerMessageDeflateOptions as DeflateOptions } from "../../bindings/protocol/extensions.js";
import { WebSocket as Client, type NodeClientOptions } from "./client.js";
import {
  WebSocketServer as ServerClass,
  type ServerConnection as Connection,
  type ServerOptions as Options,
  type VerifyClientInfo as Info,
} from "./server.js";
import { createWebSocketStream } from "./stream.js";

/** The client class with ws's statics: `WebSocket.Server`, `.WebSocketServer`, `.WebSocket`, `.createWebSocketStream`. */
export const WebSocket = wsModule(Client, ServerClass, createWebSocketStream);
export type WebSocket = Client;

/** A message's data as ws's 'message' event gives it (@types/ws `RawData`). */
export type RawData = Buffer | ArrayBuffer | Buffer[];
/** What ws's `send` and 'message' name `Data` (@types/ws). */
export type Data = string | Buffer | ArrayBuffer | Buffer[];
/** The client's options: ws's and ours (@types/ws `ClientOptions`). */
export type ClientOptions = NodeClientOptions;

/**
 * The type names @types/ws declares in its `WebSocket` namespace, so code written against ws's types reads
 * `WebSocket.RawData`, `WebSocket.Server`, `WebSocket.ServerOptions`, `WebSocket.ClientOptions` ... as before.
 * A server's connections are `WebSocket.ServerConnection` (ws has one class for both ends, we have two).
 */
export declare namespace WebSocket {
  type RawData = Buffer | ArrayBuffer | Buffer[];
  type Data = string | Buffer | ArrayBuffer | Buffer[];
  type ClientOptions = NodeClientOptions;
  type ServerOptions = Options;
  type Server = ServerClass;
  type WebSocketServer = ServerClass;
  type WebSocket = Client;
  type ServerConnection = Connection;
  type PerMessageDeflateOptions = DeflateOptions;
  type VerifyClientCallbackSync = (info: Info) => boolean;
  type VerifyClientCallbackAsync = (
    info: Info,
    callback: (
      result: boolean,
      code?: number,
      message?: string,
      headers?: Record<string, string | number>,
    ) => void,
  ) => void;
  type Event = globalThis.Event;
  type MessageEvent = globalThis.MessageEvent;
  type CloseEvent = OurCloseEvent;
  type ErrorEvent = OurErrorEvent;
  type AddressInfo = NetAddressInfo;
}

export { createWebSocketStream, ServerClass as Server };
export type { StreamableWebSocket } from "./stream.js";
export default WebSocket;
