// The client's lifecycle table (bindings/api/client-lifecycle.ts): every step of a life with reconnects
// is legal and maps to the WHATWG readyState; an event a state does not allow raises, naming both.
import { describe, expect, it } from "vitest";
import {
  ClientLifecycle,
  LifecycleError,
  transition,
  type ClientEvent,
  type ClientState,
} from "../../bindings/api/client-lifecycle.js";
import { ReadyState } from "../../bindings/protocol/ready-state.js";

const { CONNECTING, OPEN, CLOSING, CLOSED } = ReadyState;

describe("client lifecycle", () => {
  it("walks a life of open, close frame, retry, refusal and finish, with each step's readyState", () => {
    const life = new ClientLifecycle();
    expect([life.state, life.readyState]).toEqual(["idle", CONNECTING]);
    const steps: [ClientEvent, ClientState, number][] = [
      ["dial", "connecting", CONNECTING],
      ["socketOpen", "connecting", CONNECTING],
      ["accepted", "open", OPEN],
      ["frame", "open", OPEN],
      ["closeFrame", "closing", CLOSING],
      ["frame", "closing", CLOSING],
      ["socketClosed", "closed", CLOSED],
      ["retry", "waiting", CONNECTING],
      ["dial", "connecting", CONNECTING],
      ["refused", "failing", CLOSING],
      ["socketClosed", "closed", CLOSED],
      ["finish", "finished", CLOSED],
    ];
    for (const [event, state, readyState] of steps) {
      expect(life.apply(event)).toBe(state);
      expect(life.readyState).toBe(readyState);
    }
    expect(life.stopRequested).toBe(false);
  });

  it("close() while connecting is closing; close() while waiting goes back to closed for the policy to finish", () => {
    const connecting = new ClientLifecycle();
    connecting.apply("dial");
    expect(connecting.apply("userClose")).toBe("closing");
    expect(connecting.stopRequested).toBe(true);
    // The 101 may still arrive: the client closes it at once.
    expect(connecting.apply("accepted")).toBe("closing");
    const waiting = new ClientLifecycle();
    for (const event of ["dial", "accepted", "socketClosed", "retry"] as const) waiting.apply(event);
    expect(waiting.apply("userTerminate")).toBe("closed");
    expect(waiting.stopRequested).toBe(true);
    expect(waiting.apply("finish")).toBe("finished");
  });

  it("terminate() when open is CLOSING until the socket is gone; while connecting it is close() (as ws)", () => {
    const open = new ClientLifecycle();
    for (const event of ["dial", "accepted"] as const) open.apply(event);
    expect([open.apply("userTerminate"), open.readyState]).toEqual(["closing", CLOSING]);
    expect(open.apply("socketClosed")).toBe("closed");
    expect(() => transition("connecting", "userTerminate")).toThrow(LifecycleError);
  });

  it("serves a server's connection: open from idle, closed and finished after, never dialed again", () => {
    const served = new ClientLifecycle();
    expect([served.apply("serve"), served.readyState]).toEqual(["open", OPEN]);
    expect(served.apply("closeFrame")).toBe("closing");
    expect(served.apply("socketClosed")).toBe("closed");
    expect(served.apply("finish")).toBe("finished");
    for (const state of ["connecting", "open", "closed", "waiting", "finished"] as const)
      expect(() => transition(state, "serve")).toThrow(LifecycleError);
  });

  it("raises a LifecycleError naming the state and the event for a transition the table does not have", () => {
    const illegal: [ClientState, ClientEvent][] = [
      ["idle", "accepted"],
      ["connecting", "frame"],
      ["connecting", "dial"],
      ["failing", "accepted"],
      ["open", "accepted"],
      ["open", "retry"],
      ["closed", "dial"],
      ["finished", "finish"],
      ["finished", "dial"],
    ];
    for (const [state, event] of illegal) {
      expect(() => transition(state, event)).toThrow(LifecycleError);
      expect(() => transition(state, event)).toThrow(`event "${event}" is not allowed in state "${state}"`);
    }
    const life = new ClientLifecycle();
    expect(() => life.apply("finish")).toThrow(LifecycleError);
    expect(life.state).toBe("idle");
  });
});
