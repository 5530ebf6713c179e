// A session's readyState machine (bindings/protocol/close-handshake.ts): the close handshake's legal paths,
// when it was clean, and a transition the table does not have raising with the state and event named.
import { describe, expect, it } from "vitest";
import { CloseHandshake, CloseStateError } from "../../bindings/protocol/close-handshake.js";
import { ReadyState } from "../../bindings/protocol/ready-state.js";
import type { SessionSocket } from "../../bindings/protocol/session.js";

const { CONNECTING, OPEN, CLOSING, CLOSED } = ReadyState;

/** A socket that only counts destroy() calls (the close timer's one effect). */
function socket(): SessionSocket & { destroyed: number } {
  return {
    destroyed: 0,
    write: () => true,
    end: () => {},
    destroy() {
      this.destroyed++;
    },
    bufferedAmount: 0,
    writable: true,
  };
}

describe("close handshake", () => {
  it("opens, receives the peer's close with its code and reason, and was clean once both frames went", () => {
    const handshake = new CloseHandshake(10_000, socket());
    expect(handshake.readyState).toBe(CONNECTING);
    expect(handshake.apply("start")).toBe(OPEN);
    handshake.received(4000, "bye");
    expect([handshake.readyState, handshake.code, handshake.reason]).toEqual([CLOSING, 4000, "bye"]);
    expect(handshake.wasClean(true, true)).toBe(true);
    expect(handshake.wasClean(true, false)).toBe(false);
    handshake.failed = true;
    expect(handshake.wasClean(true, true)).toBe(false);
    handshake.closed();
    expect(handshake.readyState).toBe(CLOSED);
  });

  it("keeps CONNECTING on a FIN before the start, and goes CLOSING on terminate from any open state", () => {
    const handshake = new CloseHandshake(10_000, socket());
    expect(handshake.apply("peerEnded")).toBe(CONNECTING);
    expect(handshake.apply("terminated")).toBe(CLOSING);
    expect(handshake.apply("start")).toBe(CLOSING);
    handshake.closed();
    expect(handshake.apply("terminated")).toBe(CLOSED);
  });

  it("raises for events a state does not allow, naming both", () => {
    const handshake = new CloseHandshake(10_000, socket());
    expect(() => handshake.apply("closeReceived")).toThrow(CloseStateError);
    expect(() => handshake.apply("failed")).toThrow(
      'event "failed" is not allowed in readyState 0 (CONNECTING)',
    );
    handshake.apply("start");
    handshake.closed();
    expect(() => handshake.apply("start")).toThrow("readyState 3 (CLOSED)");
    expect(() => handshake.closed()).toThrow(CloseStateError);
  });

  it("destroys a peer still there at the close timeout, and arms no timer once closed", async () => {
    const open = socket();
    const handshake = new CloseHandshake(5, open);
    handshake.apply("start");
    handshake.armTimer();
    handshake.armTimer();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(open.destroyed).toBe(1);
    const gone = socket();
    const closed = new CloseHandshake(5, gone);
    closed.apply("start");
    closed.closed();
    closed.armTimer();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gone.destroyed).toBe(0);
  });
});
