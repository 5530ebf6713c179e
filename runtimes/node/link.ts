// A Node socket as bindings/session.ts sees it. Node streams buffer every write themselves (`write`
// returns a boolean and calls back once written), and gather a batch with cork/uncork.
import type { Socket } from "node:net";
import type { Session, SessionSocket } from "../../bindings/session.js";

/** Buffer.allocUnsafe: the byte type Node users get. */
export const allocBuffer = (size: number): Buffer => Buffer.allocUnsafe(size);

/** `SessionSocket` over a `net.Socket` (or the TLS one). */
export class SocketLink implements SessionSocket {
  readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  write(bytes: Uint8Array, done?: (error?: Error | null) => void): boolean {
    return this.socket.write(bytes, done);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get writable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }
}

const ignoreError = (): void => {};

/** Report an open server connection's socket events to its session; reads arrive as 'data' events. */
export function bindSession(socket: Socket, session: Session): void {
  socket.setNoDelay(true);
  socket.setTimeout(0);
  // ECONNRESET and the like: 'close' follows and reports 1006.
  socket.on("error", ignoreError);
  socket.on("end", () => session.onEnd());
  socket.on("close", () => session.onClose());
  socket.on("drain", () => session.onDrain());
  socket.on("data", (chunk: Buffer) => session.receive(chunk));
}
