// The WHATWG event types the client dispatches; Node lacks them as globals (CloseEvent arrived in Node 23,
// ErrorEvent is not there), and one definition keeps every host's events alike.

/** Fields of a CloseEvent. */
export interface CloseEventInit extends EventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/** A WHATWG CloseEvent: the close code and reason the peer sent (1006 when none was received). */
export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** Fields of an ErrorEvent. */
export interface ErrorEventInit extends EventInit {
  error?: unknown;
  message?: string;
}

/** An "error" event carrying the Error that caused it. */
export class ErrorEvent extends Event {
  readonly error: unknown;
  readonly message: string;
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.error = init.error;
    this.message = init.message ?? "";
  }
}

/** Fields of a FragmentEvent. */
export interface FragmentEventInit extends EventInit {
  data?: unknown;
  binary?: boolean;
  first?: boolean;
  last?: boolean;
}

/**
 * A chunk of a message as it arrives (client option `fragments: "stream"`): `first` on the message's first
 * chunk, `last` on its final one (both for a message that came in one piece). `data` is a string for text
 * (decoded across chunks), bytes per `binaryType` for binary.
 */
export class FragmentEvent extends Event {
  readonly data: unknown;
  readonly binary: boolean;
  readonly first: boolean;
  readonly last: boolean;
  constructor(type: string, init: FragmentEventInit = {}) {
    super(type, init);
    this.data = init.data;
    this.binary = init.binary ?? false;
    this.first = init.first ?? false;
    this.last = init.last ?? false;
  }
}
