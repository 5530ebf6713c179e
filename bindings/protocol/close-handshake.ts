// One session's readyState and close handshake, as an explicit state machine (h11's way): named events, one
// transition table, and an event the current state does not allow raises a CloseStateError naming both. It
// keeps the peer's close code and reason, whether the connection failed (then it was not clean), and the
// close timer: after the close frames the server ends TCP first (RFC 6455 §7.1.1) and the client waits for
// the server's FIN; either way a peer that never closes is destroyed at closeTimeout.
import { CloseCode } from "../engine/errors.js";
import { ReadyState } from "./ready-state.js";
import type { SessionSocket } from "./session.js";

/** What happens to a session. */
export type SessionEvent =
  /** The opening handshake is done: frames flow. */
  | "start"
  /** Our close frame was sent (or waits behind a Blob being read). */
  | "closeRequested"
  /** The peer's close frame arrived (the engine queued the reply). */
  | "closeReceived"
  /** A protocol violation or a local failure: a close frame with its code was sent. */
  | "failed"
  /** The socket is being destroyed without a close handshake. */
  | "terminated"
  /** The peer half-closed (FIN). */
  | "peerEnded"
  /** The socket is closed and the slot released. */
  | "socketClosed";

const { CONNECTING, OPEN, CLOSING, CLOSED } = ReadyState;

/** Every legal transition: readyState → event → next readyState. */
const TRANSITIONS: Readonly<Record<ReadyState, Readonly<Partial<Record<SessionEvent, ReadyState>>>>> = {
  [CONNECTING]: { start: OPEN, terminated: CLOSING, peerEnded: CONNECTING, socketClosed: CLOSED },
  [OPEN]: {
    closeRequested: CLOSING,
    closeReceived: CLOSING,
    failed: CLOSING,
    terminated: CLOSING,
    peerEnded: CLOSING,
    socketClosed: CLOSED,
  },
  [CLOSING]: {
    // A client terminated while its 101 was being read: the session stays closing.
    start: CLOSING,
    closeRequested: CLOSING,
    closeReceived: CLOSING,
    failed: CLOSING,
    terminated: CLOSING,
    peerEnded: CLOSING,
    socketClosed: CLOSED,
  },
  [CLOSED]: { terminated: CLOSED, peerEnded: CLOSED },
};

/** An event the session's state does not allow: a bug in the host or the bindings, not in the peer. */
export class CloseStateError extends Error {
  constructor(state: ReadyState, event: SessionEvent) {
    const name = Object.keys(ReadyState)[state];
    super(`session: event "${event}" is not allowed in readyState ${state} (${name})`);
    this.name = "CloseStateError";
  }
}

/** One session's close handshake. */
export class CloseHandshake {
  private state: ReadyState = CONNECTING;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly closeTimeout: number;
  private readonly socket: SessionSocket;
  /** The peer's close code (1006 until its close frame arrives) and reason. */
  code: number = CloseCode.Abnormal;
  reason = "";
  /** The connection failed (a protocol error, an overflow, a local failure): it did not close cleanly. */
  failed = false;

  /** The socket is destroyed when the peer is still there `closeTimeout` ms after the close. */
  constructor(closeTimeout: number, socket: SessionSocket) {
    this.closeTimeout = closeTimeout;
    this.socket = socket;
  }

  /** The WHATWG readyState. */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Apply `event`: the readyState it leads to (a CloseStateError when the current one does not allow it). */
  apply(event: SessionEvent): ReadyState {
    const next = TRANSITIONS[this.state][event];
    if (next === undefined) throw new CloseStateError(this.state, event);
    this.state = next;
    return next;
  }

  /** The peer's close frame, with its code and reason. */
  received(code: number, reason: string): void {
    this.code = code;
    this.reason = reason;
    this.apply("closeReceived");
  }

  /** Both close frames went and nothing failed. */
  wasClean(closeSent: boolean, closeReceived: boolean): boolean {
    return !this.failed && closeSent && closeReceived;
  }

  /** Destroy the socket at the close timeout unless it closes first (armed once). */
  armTimer(): void {
    // Closed already: Bun's end() runs the close callback synchronously, and a timer armed after it
    // would hold the socket and the session for closeTimeout with nothing left to clear it.
    if (this.timer !== undefined || this.state === CLOSED) return;
    this.timer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
  }

  /** The socket is closed: the handshake is over, no timer left. */
  closed(): void {
    this.apply("socketClosed");
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
