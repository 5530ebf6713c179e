// WireConnection behaviors that span the engine and the host: ordering of events and replies.
import { describe, expect, it } from "vitest";
import { Role, WireConnection } from "../../bindings/connection.js";
import { createEngine } from "../../bindings/embedded.js";

/** A masked client frame. */
function clientFrame(byte0: number, payload: Uint8Array): Uint8Array {
  const key = [9, 8, 7, 6];
  return new Uint8Array([byte0, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i % 4])]);
}

/** A server-side connection on its own engine that echoes text; `wire` collects what it writes (hex). */
function echoConnection(build: "simd" | "mvp"): { conn: WireConnection; wire: string[]; errors: number[] } {
  const engine = createEngine({ maxConnections: 1, ioBytes: build === "simd" ? 192 * 1024 : 4096 }, build);
  const wire: string[] = [];
  const errors: number[] = [];
  const conn: WireConnection = new WireConnection(
    { engine, slot: 0 },
    {
      message: (data) => conn.send(data, false),
      ping() {},
      pong() {},
      close() {},
      error: (error) => errors.push(error.closeCode),
      closed() {},
      write: (bytes) => wire.push(Buffer.from(bytes).toString("hex")),
    },
    { role: Role.Server, maxPayload: 1 << 20 },
  );
  return { conn, wire, errors };
}

describe.each(["simd", "mvp"] as const)("WireConnection (%s build)", (build) => {
  it("lets the host answer a message read together with invalid UTF-8 in the next one, before the 1007", () => {
    const { conn, wire, errors } = echoConnection(build);
    const bad = new Uint8Array([0x61, 0xff, 0x62]);
    conn.receive(
      new Uint8Array([...clientFrame(0x81, new TextEncoder().encode("hi")), ...clientFrame(0x81, bad)]),
    );
    expect(wire).toEqual(["81026869", "880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("does the same when the invalid byte is in a later fragment of a message begun in the same read", () => {
    const { conn, wire, errors } = echoConnection(build);
    const text = (s: string) => new TextEncoder().encode(s);
    conn.receive(
      new Uint8Array([
        ...clientFrame(0x81, text("hi")),
        ...clientFrame(0x01, text("ok")),
        ...clientFrame(0x80, new Uint8Array([0xc3, 0x28])),
      ]),
    );
    expect(wire).toEqual(["81026869", "880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("still fails at once, with nothing read before it, on invalid UTF-8 split across reads", () => {
    const { conn, wire, errors } = echoConnection(build);
    const frame = clientFrame(0x81, new Uint8Array([0x61, 0x62, 0xed, 0xa0, 0x80]));
    conn.receive(frame.subarray(0, 8));
    expect(wire).toEqual([]);
    conn.receive(frame.subarray(8));
    expect(wire).toEqual(["880203ef"]);
    expect(errors).toEqual([1007]);
  });

  it("lets the host answer data that arrives in the same read as a close frame, before the close reply", () => {
    const { conn, wire } = echoConnection(build);
    const hi = new TextEncoder().encode("hi");
    const close = new Uint8Array([0x03, 0xe8]);
    conn.receive(new Uint8Array([...clientFrame(0x81, hi), ...clientFrame(0x88, close)]));
    expect(wire).toEqual(["81026869", "880203e8"]);
  });
});
