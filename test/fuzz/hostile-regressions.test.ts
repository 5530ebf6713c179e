// Engine regressions the hostile-peer fuzzer found (test/vectors/hostile-cases.json replays them over real
// sockets on Node and Bun); here on both builds, every split of the input, without sockets.
import { describe, expect, it } from "vitest";
import { Role, WireConnection } from "../../bindings/protocol/connection.js";
import { createEngine } from "../../bindings/engine/embedded.js";

/** Masked frame bytes from a client (fixed key, so the bytes are readable in the test). */
function clientFrame(byte0: number, payload: number[]): number[] {
  const key = [0x6f, 0x47, 0xef, 0x17];
  return [byte0, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i & 3])];
}

describe.each(["simd", "mvp"] as const)("hostile-peer regressions (%s build)", (build) => {
  const engine = createEngine({ maxConnections: 2, ioBytes: 4096 }, build);

  it("reports a ping buffered in the slot intact when a later control frame starts in the same read", () => {
    const ping = [0x5f, 0xb3, 0xa8, 0x6b, 0x54, 0xd0];
    // The ping, then a pong whose payload is cut short: its first bytes go to the slot's control buffer.
    const bytes = Buffer.from([...clientFrame(0x89, ping), ...clientFrame(0x8a, [1, 2, 3, 4, 5, 6, 7, 8])]);
    const input = bytes.subarray(0, bytes.length - 3);
    for (let cut = 0; cut <= input.length; cut++) {
      const pings: string[] = [];
      const wire = new WireConnection(
        { engine, slot: 0 },
        {
          message: () => {},
          ping: (data) => pings.push(Buffer.from(data).toString("hex")),
          pong: () => {},
          close: () => {},
          error: () => {},
          closed: () => {},
          write: () => {},
        },
        { role: Role.Server, maxPayload: 1 << 16 },
      );
      wire.receive(input.subarray(0, cut));
      wire.receive(input.subarray(cut));
      wire.release();
      expect(pings, `split at ${cut}`).toEqual([Buffer.from(ping).toString("hex")]);
    }
  });
});
