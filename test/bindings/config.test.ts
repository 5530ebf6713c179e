// The documented defaults (README "Safe defaults", the option tables of docs/NODE.md and docs/DEFLATE.md, the
// Redis adapter's timeout in docs/PUBSUB.md) are the values of bindings/policies/config.ts `defaults`, so the docs
// cannot drift from the code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BUILD, SLOT_BYTES } from "../../bindings/engine/abi.js";
import { defaults } from "../../bindings/policies/config.js";

const doc = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

const UNITS: Record<string, number> = { MiB: 1024 * 1024, KiB: 1024, s: 1000, ms: 1 };

/** The quantities written in a piece of docs, in order: "16 MiB", "10 000 ms", "30 s", "0.5", "Infinity". */
function quantities(text: string): number[] {
  const found: number[] = [];
  const pattern = /(Infinity)|(\d{1,3}(?: \d{3})+|\d+(?:\.\d+)?)(?:\s*(MiB|KiB|ms|s)\b)?/g;
  for (const m of text.matchAll(pattern)) {
    if (m[1]) found.push(Infinity);
    else found.push(Number(m[2].replace(/ /g, "")) * (m[3] ? UNITS[m[3]] : 1));
  }
  return found;
}

/** Rows of the markdown tables in `text` whose first cell is `option`: the cells, trimmed. */
function rows(text: string, option: string): string[][] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter((cells) => cells[0] === option);
}

/** The one row of `option` in `text` (tables of several sections may repeat an option: then each). */
function defaultCells(text: string, option: string): string[] {
  const found = rows(text, option).map((cells) => cells[1]);
  expect(found.length, `a table row for ${option}`).toBeGreaterThan(0);
  return found;
}

describe("documented defaults", () => {
  it("README 'Safe defaults' states bindings/policies/config.ts's values", () => {
    const text = doc("README.md");
    const line = text.slice(
      text.indexOf("Safe defaults"),
      text.indexOf("\n\n", text.indexOf("Safe defaults")),
    );
    const after = (label: RegExp) => {
      const m = label.exec(line);
      expect(m, String(label)).not.toBeNull();
      return quantities(line.slice(m!.index + m![0].length))[0];
    };
    expect(after(/`maxPayload`/)).toBe(defaults.maxPayload);
    expect(after(/handshake timeout/)).toBe(defaults.handshakeTimeout);
    expect(after(/max header/)).toBe(defaults.maxHeaderSize);
    expect(line.includes("server heartbeat on")).toBe(defaults.serverHeartbeat);
    expect(after(/ping after/)).toBe(defaults.heartbeat.interval);
    expect(after(/terminate/)).toBe(defaults.heartbeat.timeout);
    expect(after(/`maxBufferedAmount`/)).toBe(defaults.maxBufferedAmount);
  });

  it("docs/NODE.md's option tables state bindings/policies/config.ts's values", () => {
    const text = doc("docs/NODE.md");
    const expected: Record<string, number[]> = {
      "`maxPayload`": [defaults.maxPayload],
      "`maxFragments`": [defaults.maxFragments],
      "`maxClients`": [defaults.maxClients],
      "`handshakeTimeout`": [defaults.handshakeTimeout],
      "`maxHeaderSize`": [defaults.maxHeaderSize],
      "`highWaterMark`": [defaults.highWaterMark, defaults.minHighWaterMark],
      "`maxBufferedAmount`": [defaults.maxBufferedAmount],
      "`closeTimeout`": [defaults.closeTimeout],
      "`maxFragmentSize`": [defaults.maxFragmentSize],
      "`maxQueued`": [defaults.maxQueued],
      "`idleTimeout`": [defaults.http2IdleTimeout],
    };
    for (const [option, values] of Object.entries(expected))
      for (const cell of defaultCells(text, option)) expect(quantities(cell), option).toEqual(values);

    const heartbeat = defaultCells(text, "`heartbeat`");
    const timing = [defaults.heartbeat.interval, defaults.heartbeat.timeout];
    // The server's row gives the timing as its default; the client's is "off", with the timing of `true`.
    const serverRow = heartbeat.find((cell) => cell !== "off")!;
    expect(quantities(serverRow)).toEqual(timing);
    expect(heartbeat.includes("off")).toBe(!defaults.clientHeartbeat);
    const clientMeaning = rows(text, "`heartbeat`").find((cells) => cells[1] === "off")![2];
    expect(quantities(clientMeaning)).toEqual(timing);

    const verify = rows(text, "`verifyClient(info, cb?)`")[0][2];
    expect(quantities(verify.slice(verify.indexOf("Refusal default")))[0]).toBe(defaults.refusalStatus);

    const reconnect = rows(text, "`reconnect`")[0][2];
    const r = defaults.reconnect;
    expect(quantities(reconnect)).toEqual([
      r.minDelay,
      r.maxDelay,
      r.factor,
      r.jitter,
      r.maxRetries,
      r.minUptime,
    ]);
  });

  it("docs/DEFLATE.md's option table states bindings/policies/config.ts's deflate values", () => {
    const text = doc("docs/DEFLATE.md");
    const d = defaults.deflate;
    expect(quantities(defaultCells(text, "`threshold`")[0])).toEqual([d.threshold]);
    expect(quantities(defaultCells(text, "`level`, `memLevel`")[0])).toEqual([d.level, d.memLevel]);
    expect(quantities(defaultCells(text, "`historyBytes`")[0])).toEqual([d.historyBytes]);
  });

  it("docs/PUBSUB.md states the Redis adapter's connect timeout", () => {
    const text = doc("docs/PUBSUB.md");
    const at = text.indexOf("`connectTimeout`, default");
    expect(at).toBeGreaterThan(0);
    expect(quantities(text.slice(at + "`connectTimeout`, default".length))[0]).toBe(
      defaults.redisConnectTimeout,
    );
  });

  it("the mvp engine's default slots and I/O fit its static pool (no memory above __heap_base)", () => {
    const { maxConnections, ioBytes } = defaults.engine.mvp;
    expect(maxConnections * SLOT_BYTES + ioBytes).toBeLessThanOrEqual(BUILD.mvp.POOL_BYTES);
  });

  it("the simd engine's default input area takes a 64 KiB message's frame in one read", () => {
    // A third of the I/O area is where a socket reads (bindings/protocol/connection.ts ioAreas); a 64 KiB
    // frame read in two pieces costs a second read and parse per message (the 64 KiB echo bench cell).
    const frameBytes = 65536 + 10 + 4;
    expect(Math.floor(defaults.engine.simd.ioBytes / 3)).toBeGreaterThanOrEqual(frameBytes);
  });

  it("is frozen, nested groups too", () => {
    expect(Object.isFrozen(defaults)).toBe(true);
    for (const value of Object.values(defaults))
      if (typeof value === "object") expect(Object.isFrozen(value)).toBe(true);
  });
});
