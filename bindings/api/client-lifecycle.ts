// The client's connection lifecycle as an explicit state machine, as h11 has one: named states, the events
// that move a client between them, and one transition table. An event the table does not list for the
// current state is a bug in the client, raised as a LifecycleError naming both, never ignored silently.
// Pure: no sockets, no timers; client-core.ts performs the effects of each transition.
import { ReadyState } from "../protocol/ready-state.js";

/** Where a client is. */
export type ClientState =
  /** Constructed, not yet dialing. */
  | "idle"
  /** Dialing the transport and running the opening handshake. */
  | "connecting"
  /**
   * The opening handshake failed (refused, timed out, socket error): the transport is being torn down
   * (CLOSING, as ws's client is from the failure on).
   */
  | "failing"
  /** The server's 101 was accepted: messages flow. */
  | "open"
  /** A close frame was sent or received, or the application closed before the handshake completed. */
  | "closing"
  /** The transport is gone; the reconnect policy decides what follows. */
  | "closed"
  /** Waiting for the reconnect timer. */
  | "waiting"
  /** No more connections will be made. */
  | "finished";

/** What happens to a client. */
export type ClientEvent =
  /** Start a connection attempt (the constructor, or the reconnect timer). */
  | "dial"
  /** The transport is up: the upgrade request goes out. */
  | "socketOpen"
  /** A server accepted the connection and this client object serves it (the server's `WebSocket` option). */
  | "serve"
  /** A valid 101 arrived. */
  | "accepted"
  /** The handshake failed: a refusal or an invalid 101, the handshake timeout, a socket error or close. */
  | "refused"
  /** A message, fragment, ping or pong arrived. */
  | "frame"
  /** A close frame was received (the engine queued the reply). */
  | "closeFrame"
  /** The application called `close()`. */
  | "userClose"
  /** The application called `terminate()` (while connecting it calls `close()`, as ws's aborts the handshake). */
  | "userTerminate"
  /** The transport is closed and the session released. */
  | "socketClosed"
  /** The reconnect policy chose to retry: the timer is set. */
  | "retry"
  /** No more connections: the application closed, the policy declined, or retries ran out. */
  | "finish";

/** Every legal transition: state → event → next state. */
const TRANSITIONS: Readonly<Record<ClientState, Readonly<Partial<Record<ClientEvent, ClientState>>>>> = {
  idle: { dial: "connecting", serve: "open" },
  connecting: {
    socketOpen: "connecting",
    accepted: "open",
    refused: "failing",
    userClose: "closing",
    socketClosed: "closed",
  },
  failing: {
    // The teardown after a refusal may bring a socket error or the socket's end as well.
    refused: "failing",
    userClose: "closing",
    userTerminate: "failing",
    socketClosed: "closed",
  },
  open: {
    frame: "open",
    closeFrame: "closing",
    userClose: "closing",
    // CLOSING until the destroyed socket's close arrives, as ws's terminate().
    userTerminate: "closing",
    socketClosed: "closed",
  },
  closing: {
    // The application closed while connecting and the 101 came anyway: it is closed at once.
    accepted: "closing",
    refused: "closing",
    frame: "closing",
    closeFrame: "closing",
    userClose: "closing",
    userTerminate: "closing",
    socketClosed: "closed",
  },
  // A "close" listener may call close() or terminate(): that only decides the policy's answer.
  closed: { userClose: "closed", userTerminate: "closed", retry: "waiting", finish: "finished" },
  // Stopped while waiting: the retry is cancelled, and the policy's answer from "closed" is to finish.
  waiting: { dial: "connecting", userClose: "closed", userTerminate: "closed" },
  finished: { userClose: "finished", userTerminate: "finished" },
};

/**
 * The WHATWG readyState of each state: CONNECTING while dialing, handshaking or waiting to reconnect; a
 * failed handshake CLOSING until its socket is gone (ws's).
 */
const READY_STATES: Readonly<Record<ClientState, ReadyState>> = {
  idle: ReadyState.CONNECTING,
  connecting: ReadyState.CONNECTING,
  failing: ReadyState.CLOSING,
  open: ReadyState.OPEN,
  closing: ReadyState.CLOSING,
  closed: ReadyState.CLOSED,
  waiting: ReadyState.CONNECTING,
  finished: ReadyState.CLOSED,
};

/** An event the current state does not allow: a bug in the client, not in the peer or the application. */
export class LifecycleError extends Error {
  readonly state: ClientState;
  readonly event: ClientEvent;

  constructor(state: ClientState, event: ClientEvent) {
    super(`client lifecycle: event "${event}" is not allowed in state "${state}"`);
    this.name = "LifecycleError";
    this.state = state;
    this.event = event;
  }
}

/** The next state after `event` in `state`; a LifecycleError when the table has no such transition. */
export function transition(state: ClientState, event: ClientEvent): ClientState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new LifecycleError(state, event);
  return next;
}

/** Whether `event` is legal in `state`. */
export function allows(state: ClientState, event: ClientEvent): boolean {
  return TRANSITIONS[state][event] !== undefined;
}

/** One client's lifecycle: its state, and whether the application asked it to stop. */
export class ClientLifecycle {
  private current: ClientState = "idle";
  private stop = false;

  /** The current state. */
  get state(): ClientState {
    return this.current;
  }

  /** The WHATWG readyState of the current state. */
  get readyState(): ReadyState {
    return READY_STATES[this.current];
  }

  /** The application called close() or terminate(): no reconnect follows, and a late 101 is closed at once. */
  get stopRequested(): boolean {
    return this.stop;
  }

  /** Apply `event`: the state it leads to (a LifecycleError when the current state does not allow it). */
  apply(event: ClientEvent): ClientState {
    this.current = transition(this.current, event);
    if (event === "userClose" || event === "userTerminate") this.stop = true;
    return this.current;
  }
}
