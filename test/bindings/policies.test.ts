// The policies every host shares (bindings/policies/): the reconnect decision and its timer, the send
// queue held while a client is not open, and the heartbeat.
import { describe, expect, it, vi } from "vitest";
import { Emitter } from "../../bindings/api/emitter.js";
import { Heartbeat } from "../../bindings/policies/heartbeat.js";
import { Reconnect } from "../../bindings/policies/reconnect.js";
import { SendQueue, byteSize } from "../../bindings/policies/send-queue.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Reconnect", () => {
  it("finishes 'closed' when the application stopped, 'no-reconnect' when off or declined", () => {
    const on = new Reconnect<string>({ minDelay: 10, jitter: 0 }, (event) => event !== "declined");
    expect(on.decide("lost", true)).toEqual({ retry: false, reason: "closed" });
    expect(on.decide("declined", false)).toEqual({ retry: false, reason: "no-reconnect" });
    expect(new Reconnect<string>(undefined).decide("lost", false)).toEqual({
      retry: false,
      reason: "no-reconnect",
    });
    expect(on.attempt).toBe(0);
  });

  it("counts retries with growing delays, gives up after maxRetries, and starts over after an open that lasted minUptime", () => {
    const policy = new Reconnect<string>({ minDelay: 10, factor: 2, jitter: 0, maxRetries: 2, minUptime: 0 });
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 1, delay: 10 });
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 2, delay: 20 });
    expect(policy.decide("lost", false)).toEqual({ retry: false, reason: "retries" });
    policy.opened();
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 1, delay: 10 });
  });

  it("does not start over after an open shorter than minUptime (default 5 s)", () => {
    const policy = new Reconnect<string>({ minDelay: 10, factor: 2, jitter: 0, maxRetries: 2 });
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 1, delay: 10 });
    policy.opened();
    expect(policy.decide("lost", false)).toEqual({ retry: true, attempt: 2, delay: 20 });
    policy.opened();
    expect(policy.decide("lost", false)).toEqual({ retry: false, reason: "retries" });
  });

  it("runs a scheduled retry once, and not at all once cancelled", async () => {
    const policy = new Reconnect<string>(true);
    let retries = 0;
    policy.schedule(5, () => retries++);
    policy.schedule(5, () => retries++); // replaces the first
    await sleep(50);
    expect(retries).toBe(1);
    policy.schedule(5, () => retries++);
    policy.cancel();
    await sleep(50);
    expect(retries).toBe(1);
  });
});

describe("SendQueue", () => {
  it("holds messages in order with their bytes, hands them over once, and refuses past maxQueued", () => {
    const queue = new SendQueue<string>(2);
    queue.push("é", byteSize("é"));
    queue.push("ab", byteSize("ab"));
    expect([queue.length, queue.bytes]).toEqual([2, 4]);
    expect(() => queue.push("c", 1)).toThrow(RangeError);
    expect(() => queue.push("c", 1)).toThrow("send queue full: 2 messages held while not open (maxQueued 2)");
    expect(queue.take()).toEqual(["é", "ab"]);
    expect([queue.length, queue.bytes, queue.take()]).toEqual([0, 0, []]);
  });

  it("measures strings as UTF-8, Blobs by size and bytes by byteLength", () => {
    expect(byteSize("€")).toBe(3);
    expect(byteSize(new Blob(["abcd"]))).toBe(4);
    expect(byteSize(new Uint16Array(3))).toBe(6);
    expect(byteSize(new ArrayBuffer(5))).toBe(5);
  });
});

describe("Heartbeat", () => {
  /** A heartbeat's hooks, counting its pings and recording when it timed out. */
  function hooks() {
    return {
      pings: 0,
      timedOut: false,
      heartbeatPing() {
        this.pings++;
      },
      heartbeatTimeout() {
        this.timedOut = true;
      },
    };
  }

  it("pings a silent peer after interval, gives up after timeout more, and never while frames arrive", async () => {
    const timing = { interval: 40, timeout: 40 };
    const silent = hooks();
    const talking = hooks();
    const a = new Heartbeat(timing, silent);
    const b = new Heartbeat(timing, talking);
    a.start();
    b.start();
    const talk = setInterval(() => b.activity(), 10);
    for (let i = 0; i < 100 && !silent.timedOut; i++) await sleep(10);
    clearInterval(talk);
    expect(silent).toMatchObject({ pings: 1, timedOut: true });
    expect(talking).toMatchObject({ pings: 0, timedOut: false });
    b.stop();
    // Stopped: nothing more, however long the silence.
    await sleep(150);
    expect(talking).toMatchObject({ pings: 0, timedOut: false });
  });

  it("watches any number of connections of one timing with one timer, none per connection", () => {
    const interval = vi.spyOn(globalThis, "setInterval");
    const timeout = vi.spyOn(globalThis, "setTimeout");
    try {
      const beats = Array.from(
        { length: 100 },
        () => new Heartbeat({ interval: 60_000, timeout: 60_000 }, hooks()),
      );
      for (const beat of beats) beat.start();
      expect(interval).toHaveBeenCalledTimes(1);
      expect(timeout).not.toHaveBeenCalled();
      for (const beat of beats) beat.stop();
    } finally {
      interval.mockRestore();
      timeout.mockRestore();
    }
  });
});

describe("Emitter", () => {
  it("keeps any event name apart from Object's keys, in the order events were first listened to", () => {
    const emitter = new Emitter<Record<string, [number]>>();
    const got: string[] = [];
    expect(emitter.listenerCount("toString")).toBe(0);
    expect(emitter.emit("constructor", 1)).toBe(false);
    emitter.on("__proto__", (n) => got.push(`__proto__ ${n}`));
    emitter.once("constructor", (n) => got.push(`constructor ${n}`));
    emitter.on("message", (n) => got.push(`message ${n}`));
    expect(emitter.eventNames()).toEqual(["__proto__", "constructor", "message"]);
    expect([
      emitter.emit("__proto__", 1),
      emitter.emit("constructor", 2),
      emitter.emit("constructor", 3),
    ]).toEqual([true, true, false]);
    emitter.removeAllListeners("__proto__");
    expect(emitter.emit("__proto__", 4)).toBe(false);
    expect(emitter.eventNames()).toEqual(["message"]);
    expect(got).toEqual(["__proto__ 1", "constructor 2"]);
    emitter.removeAllListeners();
    expect(emitter.eventNames()).toEqual([]);
  });
});
