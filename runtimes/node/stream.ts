// createWebSocketStream: a node:stream Duplex over a connection, as ws has it. Messages read become chunks
// (the connection pauses while the readable side is full); chunks written become binary messages; ending
// the writable side closes the connection; destroying the stream terminates it. Node and Bun alike.
import { Duplex, type DuplexOptions } from "node:stream";

/** What the stream needs of a connection: our client and our server connections both have it. */
export interface StreamableWebSocket {
  readonly readyState: number;
  readonly isPaused?: boolean;
  on(
    event: "message",
    listener: (data: Uint8Array | ArrayBuffer | Uint8Array[] | Blob, isBinary: boolean) => void,
  ): unknown;
  once(event: "open" | "close", listener: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  send(data: Uint8Array, callback?: (error?: Error) => void): void;
  close(): void;
  terminate(): void;
  pause?(): void;
  resume?(): void;
}

const CONNECTING = 0;
const CLOSED = 3;

/** A Duplex over `ws`: ws's `createWebSocketStream(ws, options)`. */
export function createWebSocketStream(ws: StreamableWebSocket, options: DuplexOptions = {}): Duplex {
  let terminateOnDestroy = true;
  let closed = ws.readyState === CLOSED;
  let opened = ws.readyState !== CONNECTING;
  ws.once("open", () => (opened = true));
  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });

  ws.on("message", (data, isBinary) => {
    const chunk = !isBinary && duplex.readableObjectMode ? Buffer.from(data as Uint8Array).toString() : data;
    if (!duplex.push(chunk)) ws.pause?.();
  });
  ws.once("error", (error) => {
    if (duplex.destroyed) return;
    // The connection already ended itself: destroying the stream must not terminate it again.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });
  ws.once("close", () => {
    closed = true;
    if (!duplex.destroyed) duplex.push(null);
  });

  duplex._destroy = (error, callback) => {
    if (closed || ws.readyState === CLOSED) {
      callback(error);
      process.nextTick(() => duplex.emit("close"));
      return;
    }
    let called = false;
    ws.once("error", (wsError) => {
      called = true;
      callback(wsError);
    });
    ws.once("close", () => {
      if (!called) callback(error);
      process.nextTick(() => duplex.emit("close"));
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === CONNECTING) {
      ws.once("open", () => duplex._final(callback));
      return;
    }
    // A connection that never opened has nothing to end: the handshake's error destroys the stream (ws).
    if (!opened) return;
    if (closed || ws.readyState === CLOSED) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
      return;
    }
    ws.once("close", () => callback());
    ws.close();
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume?.();
  };

  duplex._write = (chunk: Uint8Array, _encoding, callback) => {
    if (ws.readyState === CONNECTING) {
      ws.once("open", () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  // Both sides done, in either order (the close can end the readable side before the writable one
  // finishes): the stream is over.
  duplex.on("end", () => {
    if (!duplex.destroyed && duplex.writableFinished) duplex.destroy();
  });
  duplex.on("finish", () => {
    if (!duplex.destroyed && duplex.readableEnded) duplex.destroy();
  });
  duplex.on("error", function onError(this: Duplex, error: Error) {
    this.removeListener("error", onError);
    this.destroy();
    // As a stream without an 'error' listener does: re-emitted, it throws.
    if (this.listenerCount("error") === 0) this.emit("error", error);
  });
  return duplex;
}
