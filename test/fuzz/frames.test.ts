// Property tests: writer → reader round trips, and arbitrary bytes never throw, hang or misreport.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Role, WireConnection, type ConnectionHandler } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";
import type { Engine } from "../../bindings/engine/engine.js";

type Op =
  | { kind: "text"; data: string; fragment: number }
  | { kind: "binary"; data: Uint8Array; fragment: number }
  | { kind: "ping" | "pong"; data: Uint8Array };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("text" as const),
    data: fc.string({ unit: "grapheme", maxLength: 300 }),
    fragment: fc.nat(40),
  }),
  fc.record({
    kind: fc.constant("binary" as const),
    data: fc.uint8Array({ maxLength: 70_000 }),
    fragment: fc.nat(5000),
  }),
  fc.record({
    kind: fc.constantFrom("ping" as const, "pong" as const),
    data: fc.uint8Array({ maxLength: 125 }),
  }),
);

/** Records a connection's events as comparable values. */
function recorder(log: unknown[], out?: Uint8Array[]): ConnectionHandler {
  return {
    message: (data, isBinary) =>
      log.push(
        isBinary ? { binary: Buffer.from(data).toString("hex") } : { text: new TextDecoder().decode(data) },
      ),
    ping: (data) => log.push({ ping: Buffer.from(data).toString("hex") }),
    pong: (data) => log.push({ pong: Buffer.from(data).toString("hex") }),
    close: (code, reason) => log.push({ close: code, reason }),
    error: (error) => log.push({ error: error.closeCode }),
    closed: () => log.push({ closed: true }),
    write: (bytes) => out?.push(bytes.slice()),
  };
}

/** Split `bytes` at the given fractions. */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const offsets = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const o of offsets) {
    pieces.push(bytes.subarray(last, o));
    last = o;
  }
  pieces.push(bytes.subarray(last));
  return pieces;
}

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe.each(["simd", "mvp"] as const)("frame properties (%s build)", (build) => {
  const engine: Engine = createEngine(
    { maxConnections: 2, ioBytes: build === "simd" ? 192 * 1024 : 4096 },
    build,
  );

  it.each([
    ["client → server", Role.Client, Role.Server],
    ["server → client", Role.Server, Role.Client],
  ] as const)("random frame sequences round-trip %s", (_, senderRole, receiverRole) => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        (ops, cuts) => {
          const wire: Uint8Array[] = [];
          const sender = new WireConnection({ engine, slot: 0 }, recorder([], wire), {
            role: senderRole,
            maxPayload: 2 ** 53,
          });
          const expected: unknown[] = [];
          for (const o of ops) {
            if (o.kind === "text") {
              sender.send(o.data, false, o.fragment);
              expected.push({ text: o.data });
            } else if (o.kind === "binary") {
              sender.send(o.data, true, o.fragment);
              expected.push({ binary: Buffer.from(o.data).toString("hex") });
            } else {
              sender[o.kind](o.data);
              expected.push({ [o.kind]: Buffer.from(o.data).toString("hex") });
            }
          }
          sender.close(1000, "done");
          expected.push({ close: 1000, reason: "done" }, { closed: true });
          const received: unknown[] = [];
          const receiver = new WireConnection({ engine, slot: 1 }, recorder(received), {
            role: receiverRole,
            maxPayload: 2 ** 53,
            autoPong: false,
          });
          for (const piece of splitAt(concat(wire), cuts)) receiver.receive(piece);
          expect(received).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("arbitrary bytes never throw and end in events or exactly one close code", () => {
    const validStream = fc.array(op, { maxLength: 6 }).map((ops) => {
      const wire: Uint8Array[] = [];
      const sender = new WireConnection({ engine, slot: 0 }, recorder([], wire), {
        role: Role.Client,
        maxPayload: 2 ** 53,
      });
      for (const o of ops) {
        if (o.kind === "text") sender.send(o.data, false, o.fragment);
        else if (o.kind === "binary") sender.send(o.data.subarray(0, 2000), true, o.fragment);
        else sender[o.kind](o.data);
      }
      return concat(wire);
    });
    const mutated = fc
      .tuple(
        validStream,
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 4,
        }),
      )
      .map(([bytes, flips]) => {
        const copy = bytes.slice();
        for (const [at, value] of flips)
          if (copy.length) copy[Math.floor(at * copy.length) % copy.length] = value;
        return copy;
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
        fc.constantFrom(Role.Server, Role.Client),
        (bytes, cuts, role) => {
          const log: unknown[] = [];
          const receiver = new WireConnection({ engine, slot: 1 }, recorder(log), {
            role,
            maxPayload: 1 << 16,
          });
          for (const piece of splitAt(bytes, cuts)) receiver.receive(piece);
          const errors = log.filter((e) => typeof e === "object" && e !== null && "error" in e);
          expect(errors.length).toBeLessThanOrEqual(1);
          if (errors.length === 1) {
            expect(log[log.length - 1]).toBe(errors[0]);
            expect([1002, 1007, 1009]).toContain((errors[0] as { error: number }).error);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
