// How much one connection may queue for its peer, and when it reads from the socket. `drain` is owed once
// the queue reached the high-water mark and fell back below it; past maxBufferedAmount the peer is failed
// (1008). A server stops reading a peer whose output stays stalled at the mark, so what the peer makes us
// send (echoes, pongs to a ping flood) stays bounded, and fails it with 1008 after stallTimeout. The
// application may stop reading too (ws's pause()); reading resumes when neither holds it.
import type { SessionSocket } from "./session.js";

/** The limits, resolved (see `sessionLimits`). */
export interface BackpressureLimits {
  /** bufferedAmount at or above which `drain` is owed once it empties. */
  highWaterMark: number;
  /** Bytes still queued when a send happens beyond which the peer is failed with 1008. */
  maxBufferedAmount: number;
  /** Ms a server keeps a peer whose output stays stalled (reading paused) before failing it with 1008. */
  stallTimeout: number;
}

/** What the budget asks of its connection. */
export interface BackpressureHost {
  /** Bytes queued for the peer and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** Hand everything queued to the socket now. */
  flushOutput(): void;
  /** The queue fell back below the high-water mark after reaching it: a `drain` is due. */
  drained(): void;
  /** The peer read nothing for stallTimeout while its output was stalled: fail it (1008). */
  stalled(error: Error): void;
}

/** One connection's output budget and read gate. */
export class Backpressure {
  private readonly host: BackpressureHost;
  private readonly socket: SessionSocket;
  private readonly limits: BackpressureLimits;
  /** Only a server stops reading a peer that does not read (a client's server is not an attacker). */
  private readonly throttles: boolean;
  private needDrain = false;
  /** Reading is paused until the output drains below the high-water mark. */
  private stalledReading = false;
  private pausedByApp = false;
  /** The connection holds input while a compressed message inflates off the event loop. */
  private holding = false;
  private stopped = false;
  private stallTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: BackpressureHost, socket: SessionSocket, limits: BackpressureLimits, throttles: boolean) {
    this.host = host;
    this.socket = socket;
    this.limits = limits;
    this.throttles = throttles;
  }

  /** The application stopped reading (`pause()`). */
  get paused(): boolean {
    return this.pausedByApp;
  }

  /** Past maxBufferedAmount: the peer reads too slowly and is failed. */
  get overBudget(): boolean {
    return this.host.bufferedAmount > this.limits.maxBufferedAmount;
  }

  /** The error of a peer failed for being over budget. */
  overflowError(closeCode: number): Error {
    return new Error(
      `bufferedAmount ${this.host.bufferedAmount} > maxBufferedAmount ${this.limits.maxBufferedAmount}: ` +
        `the peer reads too slowly; closing with ${closeCode}`,
    );
  }

  /** A message was queued: at the high-water mark, a `drain` is owed once the queue empties. */
  queued(): void {
    if (this.host.bufferedAmount >= this.limits.highWaterMark) this.needDrain = true;
  }

  /** Bytes went to the socket (or it drained): the `drain` owed, and reading again once below the mark. */
  wrote(): void {
    if (this.needDrain && this.host.bufferedAmount < this.limits.highWaterMark) {
      this.needDrain = false;
      this.host.drained();
    }
    this.unthrottle();
  }

  /**
   * After a read: a server stops reading a peer whose output is stalled at the high-water mark. The queue is
   * handed to the socket first, so the socket owes a drain (or the kernel took it all).
   */
  read(): void {
    // While the connection holds its input (its own async work, not the peer) it is not read anyway: the gate
    // is checked once it lets go (`hold(false)`), so a long compression does not count as the peer's stall.
    if (!this.throttles || this.stalledReading || this.stopped || this.holding) return;
    const { highWaterMark, stallTimeout } = this.limits;
    if (!this.socket.pauseReading || this.host.bufferedAmount < highWaterMark) return;
    this.host.flushOutput();
    if (this.host.bufferedAmount < highWaterMark) return;
    this.stalledReading = true;
    this.socket.pauseReading();
    // Bounded in time as in memory: a peer that never reads again is failed with 1008.
    // Infinity (or anything past setTimeout's 2^31-1 ms) waits forever: setTimeout would fire at once.
    if (stallTimeout <= 0x7fffffff) this.stallTimer = setTimeout(() => this.stall(), stallTimeout);
  }

  /** Stop reading (ws's `pause()`), where the socket can. */
  pause(): void {
    if (this.stopped || !this.socket.pauseReading) return;
    this.pausedByApp = true;
    this.socket.pauseReading();
  }

  /** Read again after `pause()` (unless the output is still stalled: then once it drains). */
  resume(): void {
    if (!this.pausedByApp || this.stopped) return;
    this.pausedByApp = false;
    if (!this.stalledReading && !this.holding) this.socket.resumeReading?.();
  }

  /**
   * The connection holds its input while a compressed message inflates off the event loop (`on`), or
   * delivered it and what arrived behind it (off): then throttle as after any read, and read again.
   */
  hold(on: boolean): void {
    if (this.stopped) return;
    this.holding = on;
    if (on) return this.socket.pauseReading?.();
    this.read();
    if (!this.stalledReading && !this.pausedByApp) this.socket.resumeReading?.();
  }

  /** The socket is closed, or the connection failed: no timer left, no gate, nothing resumed from here. */
  stop(): void {
    this.stopped = true;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private unthrottle(): void {
    if (!this.stalledReading || this.stopped) return;
    if (this.host.bufferedAmount >= this.limits.highWaterMark) return;
    this.stalledReading = false;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.pausedByApp && !this.holding) this.socket.resumeReading?.();
  }

  private stall(): void {
    this.stallTimer = undefined;
    if (this.stopped) return;
    const { stallTimeout, highWaterMark } = this.limits;
    this.host.stalled(
      new Error(
        `the peer read nothing for stallTimeout ${stallTimeout} ms with ${this.host.bufferedAmount} bytes ` +
          `queued (highWaterMark ${highWaterMark}); closing with 1008`,
      ),
    );
  }
}
