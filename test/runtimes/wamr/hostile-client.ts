// The hostile server (test/support/hostile-peer.ts, hostile-run.ts) against the C client (include/wsk_client.h),
// driven by client_driver.c: each case's 101 response (sometimes padded past the client's buffer) and frames go
// to a C client with the case's settings (buffer_size, max_message_size, max_fragment_size, ping_interval_sec),
// whose app may send messages as soon as it is connected, and what the client reported is judged against the
// reference model (test/support/reference-model.ts): its DATA chunks joined into messages byte for byte, its
// pings and pongs, the frames it sent (pongs, its close frame, its own pings, the app's messages, nothing after
// its close frame), and how it ended (a handshake error for a bad or too large 101; one RFC close code for a
// broken rule; the close code of a clean close; no reset of the connection).
//
// Lifecycle cases (cLifecycleCase), a few beside the thousands of cases above, last long enough for what
// happens over time: the app's own close (wsk_client_close_with_code, after arguments the engine must refuse
// sometimes) while the server answers with random or mutated frames, crosses it with its own, keeps sending, or
// stops reading; the app's wsk_client_stop; the client's pings (ping_interval_sec 1, pingpong_timeout_sec 1 or
// 2) against a server that never answers them, answers too late, with the same payload (at once or late but in
// time), another one, or a flood of pongs; auto-reconnect through two to four hostile connections, each judged
// as above, ended by the app's close (no reconnect after it) or stop; sequences (cSequenceCase): a reconnecting
// client, pinging or not, through connections ended by the server's close of each class of code, a reset or
// FIN mid-message, or its pong timeout, the app's close refused in reconnect waits, then the app's close, stop,
// stop during the handshake or stop while its close waits. They run in a driver process of their own, eight at a
// time (LIFECYCLE_WORKERS), as pings come in whole seconds.
import { createHash } from "node:crypto";
import type * as net from "node:net";
import {
  acceptFor,
  BAD_UTF8,
  caseSeed,
  clientCase,
  generateFrames,
  INVALID_CLOSE_CODES,
  randomCuts,
  randomText,
  responseVerdict,
  Rng,
  splitAt,
  VALID_CLOSE_CODES,
  type CClientConfig,
  type CClientEpisode,
  type CClientLifecycle,
  type HostileCase,
} from "../../support/hostile-peer.js";
import {
  CASE_DEADLINE,
  Collector,
  framesOf,
  HostileRun,
  modelEvent,
  short,
  sleep,
  writePieces,
} from "../../support/hostile-run.js";
import { parseFrame, type RawFrame } from "../../support/raw-client.js";
import { isSendableCloseCode, readFrames, type ModelResult } from "../../support/reference-model.js";
import { ErrorType, type ClientDriver, type ClientEvent, type DrivenClient } from "./client-driver.js";

const BUFFER_SIZES = [256, 512, 1024, 4096, 16384];
const MAX_MESSAGE_SIZES = [64, 1000, 70_000, 1 << 20, 0];
const SEND_SIZES = [0, 1, 125, 126, 1000, 5000, 70_000];
/** What max_message_size 0 stands for: INT_MAX, the most a DATA event's payload_len reports. */
const MAX_MESSAGE_SIZE_0 = 2 ** 31 - 1;
/** The engine's receive area (CONFIG_WSK_ENGINE_IO_BYTES / 2): a 101 head must end within it, less one byte. */
const RECEIVE_AREA = 1024;
/** Settings for kept cases that carry none. */
const DEFAULT_SETTINGS: CClientConfig = {
  bufferSize: 1024,
  maxMessageSize: 0,
  pingIntervalSec: 0,
  maxFragmentSize: 0,
  sends: [],
};

/** A case for the C client: random settings, then a hostile 101 and frames for them (no deflate: the C client offers none). */
export function cClientCase(rng: Rng): HostileCase {
  const cClient: CClientConfig = {
    bufferSize: rng.pick(BUFFER_SIZES),
    maxMessageSize: rng.pick(MAX_MESSAGE_SIZES),
    pingIntervalSec: rng.pick([0, 0, 1]),
    maxFragmentSize: rng.pick([0, 0, 100, 1000]),
    sends: rng.chance(0.3) ? [...Array(1 + rng.int(3))].map(() => rng.pick(SEND_SIZES)) : [],
  };
  return { ...cConnection(rng, cClient), cClient };
}

/** A hostile 101 and frames for a client with `settings`: one connection of a case. */
function cConnection(rng: Rng, settings: CClientConfig): HostileCase {
  // 0 (INT_MAX): frames are generated as for 1 MiB.
  const maxPayload = settings.maxMessageSize || 1 << 20;
  const c = clientCase(rng, { maxPayload, fragments: "stream", deflate: false, pool: "small" });
  if (rng.chance(0.1)) {
    // A header line that makes the head end near the client's limit, on either side, or anywhere up to 2 KB.
    const limit = headLimit(settings);
    const target = rng.chance(0.5) ? limit + rng.int(9) - 4 : rng.int(2000);
    const pad = Math.max(0, target - wireHeadLength(c.head) - 9);
    const at = c.head.indexOf("\n") + 1;
    c.head = `${c.head.slice(0, at)}X-Pad: ${"p".repeat(pad)}\r\n${c.head.slice(at)}`;
    c.note = `${c.note} head-pad${pad}`.trim();
  }
  return c;
}

/**
 * Lifecycle cases run in a driver process of their own beside the short ones, this many at a time: the engine's
 * 8 slots (CONFIG_WSK_MAX_CONNECTIONS), each client holding at most one. Most of their time is waiting for
 * pings, which come in whole seconds (ping_interval_sec, pingpong_timeout_sec), so they run side by side.
 */
export const LIFECYCLE_WORKERS = 8;
/** Lifecycle case i is seeded as case LIFECYCLE_FIRST + i of the run's seed. */
const LIFECYCLE_FIRST = 1 << 30;
/** Their kinds in turn (case i is of kind i % 8). */
const LIFECYCLE_KINDS = [
  "close",
  "ping",
  "sequence",
  "reconnect",
  "stop",
  "sequence",
  "close",
  "ping",
] as const;
/** Lifecycle cases beside `connections` short ones (at least 8: one of each kind, sequences twice). */
export function lifecycleCount(connections: number): number {
  return Math.max(8, Math.round(connections / 25));
}

/**
 * Close frames a server ends a connection with, one per class of close code (RFC 6455 §7.4), cycled through by
 * the sequence cases: a payload (hex-able) and its class. The model (reference-model.ts) says what the client
 * makes of each: the code echoed and CLOSED, or 1002 (1007 for a reason not UTF-8) and DISCONNECTED.
 */
const CLOSE_CLASSES: Array<{ name: string; payload: (rng: Rng) => Buffer }> = [
  { name: "1000", payload: (rng) => closeFrame(1000, rng) },
  { name: "1001-1003", payload: (rng) => closeFrame(1001 + rng.int(3), rng) },
  { name: "1007-1011", payload: (rng) => closeFrame(1007 + rng.int(5), rng) },
  { name: "1012-1014", payload: (rng) => closeFrame(1012 + rng.int(3), rng) },
  { name: "3000-3999", payload: (rng) => closeFrame(3000 + rng.int(1000), rng) },
  { name: "4000-4999", payload: (rng) => closeFrame(4000 + rng.int(1000), rng) },
  { name: "no code", payload: () => Buffer.alloc(0) },
  { name: "reserved 1004-1006, 1015", payload: (rng) => closeFrame(rng.pick([1004, 1005, 1006, 1015]), rng) },
  {
    name: "out of range",
    payload: (rng) => closeFrame(rng.pick([0, 999, 1016, 2000 + rng.int(1000), 5000 + rng.int(60536)]), rng),
  },
  { name: "one byte", payload: (rng) => Buffer.from([rng.int(256)]) },
  {
    name: "reason not UTF-8",
    payload: (rng) => Buffer.concat([closeFrame(1000, rng).subarray(0, 2), Buffer.from(rng.pick(BAD_UTF8))]),
  },
];

/** A close payload: `code` and, half the time, a short UTF-8 reason. */
function closeFrame(code: number, rng: Rng): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return rng.chance(0.5) ? Buffer.concat([head, randomText(rng, rng.int(40)).subarray(0, 123)]) : head;
}

/**
 * Part of a message the server never finishes (binary: a frame announcing more than is sent, maybe behind a
 * whole first fragment), within the client's max_message_size.
 */
function brokenMessage(rng: Rng, settings: CClientConfig): Buffer {
  const max = Math.min(settings.maxMessageSize || 1 << 20, 5000);
  const first = rng.chance(0.4) ? rng.int(Math.floor(max / 2)) : -1;
  const length = 2 + rng.int(max - Math.max(first, 0) - 1);
  const payload = rng.bytes(length);
  const header = (fin: boolean, opcode: number, n: number) =>
    n < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, n])
      : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, n >> 8, n & 0xff]);
  const parts: Buffer[] = [];
  if (first >= 0) parts.push(header(false, 2, first), rng.bytes(first));
  parts.push(header(true, first >= 0 ? 0 : 2, length), payload.subarray(0, rng.int(length)));
  return Buffer.concat(parts);
}

/** The note of a sequence case's last connection whose 101 the server holds back (part of it at most, no FIN). */
const STOP_CONNECT = "stop-connect";

/** A valid 101 ({accept}: the accept value of the client's key). */
const VALID_HEAD =
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n";

/**
 * Frames that leave the connection open at a message's end: whole messages, pings and pongs, within the limit
 * (none when eight tries find no such frames).
 */
function openFrames(rng: Rng, settings: CClientConfig): Buffer {
  for (let i = 0; i < 8; i++) {
    const frames = generateFrames(rng, false, settings.maxMessageSize || 1 << 20, null, [], true);
    const model = modelOf(frames, settings);
    if (frames.length > 0 && model.outcome.kind === "open" && !model.partial) return frames;
  }
  return Buffer.alloc(0);
}

/** One to three short whole messages and pings (under 64 bytes each), for a server that keeps sending. */
function streamFrames(rng: Rng): Buffer {
  const frames: Buffer[] = [];
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const opcode = rng.pick([1, 1, 2, 2, 9]);
    frames.push(serverFrame(opcode, opcode === 1 ? randomText(rng, rng.int(40)) : rng.bytes(rng.int(40))));
  }
  return Buffer.concat(frames);
}

/** `bytes` without NUL bytes (a close reason is a C string); valid UTF-8 stays valid. */
const noNul = (bytes: Buffer) => Buffer.from(bytes.filter((b) => b !== 0));

/** The app's close: wsk_client_close (1000, no reason), an empty close frame (code 0), or a code and a reason. */
function appClose(rng: Rng): { code: number; reason: string } {
  const r = rng.next();
  if (r < 0.4) return { code: 1000, reason: "" };
  if (r < 0.5) return { code: 0, reason: "" };
  return { code: rng.pick(VALID_CLOSE_CODES), reason: noNul(randomText(rng, rng.int(60))).toString("hex") };
}

/** Close arguments the engine refuses: a code no close frame may carry, a reason past 123 bytes or not UTF-8. */
function badClose(rng: Rng): { code: number; reason: string } {
  const r = rng.next();
  if (r < 0.4) return { code: rng.pick(INVALID_CLOSE_CODES.filter((code) => code !== 0)), reason: "" };
  if (r < 0.5) return { code: 0, reason: Buffer.from("reason").toString("hex") };
  const code = rng.pick(VALID_CLOSE_CODES);
  if (r < 0.75) {
    const long = noNul(randomText(rng, 124 + rng.int(80)));
    return {
      code,
      reason: Buffer.concat([long, Buffer.alloc(Math.max(0, 124 - long.length), 0x61)]).toString("hex"),
    };
  }
  const text = noNul(randomText(rng, rng.int(30)));
  return { code, reason: Buffer.concat([text, Buffer.from(rng.pick(BAD_UTF8))]).toString("hex") };
}

/**
 * Lifecycle case `index` (its kind LIFECYCLE_KINDS[index % 6]): random settings, a valid 101 and frames that
 * leave the connection open, then what the app and the server do (CClientLifecycle); a reconnect case's
 * connections are hostile cases as cClientCase makes them (the last one, sometimes, open for the app's close).
 */
export function cLifecycleCase(rng: Rng, index: number): HostileCase {
  const kind = LIFECYCLE_KINDS[index % LIFECYCLE_KINDS.length];
  const settings: CClientConfig = {
    bufferSize: rng.pick(BUFFER_SIZES),
    maxMessageSize: rng.pick(MAX_MESSAGE_SIZES),
    pingIntervalSec: 0,
    maxFragmentSize: rng.pick([0, 0, 100, 1000]),
    sends: [],
  };
  const config = {
    maxPayload: settings.maxMessageSize || 1 << 20,
    fragments: "stream",
    deflate: false,
    pool: "small",
  } as const;
  const opened = (note: string): HostileCase => {
    const frames = openFrames(rng, settings);
    const cuts = randomCuts(rng, VALID_HEAD.length + 28 + frames.length);
    return { role: "client", config, head: VALID_HEAD, frames: frames.toString("hex"), cuts, note };
  };
  if (kind === "reconnect") {
    settings.reconnectTimeoutMs = rng.pick([0, 10, 50]);
    const connections = [...Array(2 + rng.int(3))].map(() => cConnection(rng, settings));
    const closeLast = rng.chance(0.4);
    if (closeLast) connections[connections.length - 1] = opened("open for the app's close");
    const [first, ...next] = connections;
    return {
      ...first,
      note: `reconnect: ${connections.map((c) => `[${c.note}]`).join(" ")}`,
      cClient: settings,
      lifecycle: {
        kind,
        next: next.map(({ head, frames, cuts, note, lax }) => ({
          head,
          frames,
          cuts,
          note,
          ...(lax ? { lax } : {}),
        })),
        ...(closeLast ? { closeLast } : {}),
      },
    };
  }
  if (kind === "sequence") return cSequenceCase(rng, index, settings, config, opened);
  const c = opened(kind);
  const life: CClientLifecycle = { kind };
  const notes: string[] = [];
  if (kind === "close") {
    life.server = rng.pick(["after", "after", "after", "cross", "stream", "deaf", "quiet"] as const);
    let ends = false;
    if (life.server === "after" || life.server === "cross") {
      const after = generateFrames(rng, false, config.maxPayload, null, notes);
      life.after = after.toString("hex");
      const all = Buffer.concat([Buffer.from(c.frames, "hex"), after]);
      ends = modelOf(all, settings).outcome.kind !== "open";
    } else if (life.server === "stream") life.after = streamFrames(rng).toString("hex");
    // A close the server answers (or fails) ends as soon as it does; one it never answers, at the timeout.
    life.close = { ...appClose(rng), timeoutMs: ends ? rng.pick([1000, 2000]) : rng.pick([50, 200, 500]) };
    if (rng.chance(0.2)) life.close.bad = badClose(rng);
    if (life.server === "deaf") settings.sends = [rng.pick([1000, 5 << 20])];
    else if (rng.chance(0.3)) settings.sends = [...Array(1 + rng.int(3))].map(() => rng.pick(SEND_SIZES));
    notes.unshift(`close ${life.close.code}${life.close.bad ? ` after bad ${life.close.bad.code}` : ""}`);
  } else if (kind === "stop") {
    life.server = rng.pick(["after", "stream", "quiet"] as const);
    if (life.server === "after") life.after = openFrames(rng, settings).toString("hex");
    if (life.server === "stream") life.after = streamFrames(rng).toString("hex");
    if (rng.chance(0.3)) settings.sends = [...Array(1 + rng.int(3))].map(() => rng.pick(SEND_SIZES));
    notes.unshift("stop");
  } else {
    settings.pingIntervalSec = 1;
    settings.pingpongTimeoutSec = rng.pick([1, 2]);
    life.pongs = rng.pick(["none", "none", "echo", "wrong", "flood", "slow", "late"] as const);
    life.pongSeed = rng.int(2 ** 32);
    life.server = rng.chance(0.4) ? "stream" : "quiet";
    if (life.server === "stream") life.after = streamFrames(rng).toString("hex");
    notes.unshift(`ping, pongs ${life.pongs}`);
  }
  return { ...c, note: [...notes, `server ${life.server}`].join(" "), cClient: settings, lifecycle: life };
}

/**
 * A sequence case: a reconnecting client (pinging, with pingpong_timeout_sec 0, 1 or 2, or not) through two to
 * four connections, each opened with a valid 101 and ended by the server's close frame of one class of code, a
 * reset or FIN in the middle of a message, or the client's pong timeout, with the app's refused close in some
 * reconnect waits; then the app's close, stop, stop while the 101 is held back, or stop during its close.
 */
function cSequenceCase(
  rng: Rng,
  index: number,
  settings: CClientConfig,
  config: HostileCase["config"],
  opened: (note: string) => HostileCase,
): HostileCase {
  settings.pingIntervalSec = rng.pick([0, 1, 1]);
  const timeout = settings.pingIntervalSec > 0 ? rng.pick([0, 1, 2]) : 0;
  settings.pingpongTimeoutSec = timeout;
  const count = 2 + rng.int(3);
  const episodes: CClientEpisode[] = [];
  for (let k = 0; k < count; k++) {
    const base = opened("");
    const ends = ["close", "close", "rst", "fin", ...(timeout > 0 ? (["timeout"] as const) : [])] as const;
    const end = rng.pick(ends);
    let pongs: CClientEpisode["pongs"] = "echo";
    if (end === "timeout") pongs = rng.pick(["none", "late"] as const);
    else if (settings.pingIntervalSec > 0)
      pongs = rng.pick(["echo", "wrong", "slow", ...(timeout === 0 ? (["none"] as const) : [])] as const);
    let tail: Buffer;
    let note: string = end;
    if (end === "close") {
      // Each class in turn across the run's cases.
      const closeClass = CLOSE_CLASSES[(index * 4 + k) % CLOSE_CLASSES.length];
      tail = closeClass.payload(rng);
      note = `close ${closeClass.name}`;
    } else tail = end === "timeout" ? Buffer.alloc(0) : brokenMessage(rng, settings);
    const closeInBackoff = k < count - 1 && rng.chance(0.3);
    episodes.push({
      head: base.head,
      frames: base.frames,
      cuts: base.cuts,
      note: `${note}${settings.pingIntervalSec > 0 ? `, pongs ${pongs}` : ""}${closeInBackoff ? ", close in backoff" : ""}`,
      pongs,
      end,
      tail: tail.toString("hex"),
      ...(closeInBackoff ? { closeInBackoff } : {}),
    });
  }
  // A close in the reconnect wait needs a wait long enough to land in.
  settings.reconnectTimeoutMs = episodes.some((e) => e.closeInBackoff) ? 800 : rng.pick([0, 10, 50]);
  const final = rng.pick(["close", "stop", "stop-connect", "stop-closing"] as const);
  const next: Connection[] = [];
  if (final === "close" || final === "stop-closing") {
    const last = opened(final);
    next.push({ head: last.head, frames: last.frames, cuts: last.cuts, note: final });
  } else if (final === "stop-connect")
    next.push({ head: VALID_HEAD.slice(0, rng.int(40)), frames: "", cuts: [], note: STOP_CONNECT });
  const first = episodes[0];
  return {
    role: "client",
    config,
    head: first.head,
    frames: first.frames,
    cuts: first.cuts,
    note: `sequence (ping ${settings.pingIntervalSec} s, timeout ${timeout} s): ${episodes.map((e) => `[${e.note}]`).join(" ")} then ${final}`,
    cClient: settings,
    lifecycle: { kind: "sequence", episodes, final, next },
  };
}

/** The longest 101 head the client takes: its buffer_size, and the engine's receive area less one byte. */
function headLimit(settings: CClientConfig): number {
  return Math.min(settings.bufferSize, RECEIVE_AREA - 1);
}

/** Bytes of the head as sent (the accept value is 28 characters), through its blank line; -1 if it has none. */
function wireHeadLength(head: string): number {
  const end = head.replaceAll("{accept}", "x".repeat(28)).indexOf("\r\n\r\n");
  return end < 0 ? -1 : end + 4;
}

/** A message as "kind:length:SHA-1" (messages of megabytes compared without their hex). */
function messageDigest(kind: string, bytes: Buffer): string {
  return `${kind}:${bytes.length}:${createHash("sha1").update(bytes).digest("hex")}`;
}

/** The app's `index`th message: text (even) or binary (odd), `size` bytes of 'a'..'z', as messageDigest. */
function sentMessage(index: number, size: number): string {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = 0x61 + (i % 26);
  return messageDigest(index % 2 === 0 ? "text" : "binary", bytes);
}

/** The client's DATA events read back: completed deliveries as "kind:hex", the message in progress, the close. */
function deliveries(events: ClientEvent[]): {
  events: string[];
  partial: { kind: string; parts: Buffer[] } | null;
  close: { code: number; reason: Buffer } | null;
  problems: string[];
} {
  const out = {
    events: [] as string[],
    partial: null as { kind: string; parts: Buffer[] } | null,
    close: null as { code: number; reason: Buffer } | null,
    problems: [] as string[],
  };
  // The frame whose chunks are arriving: its opcode as reported, bytes so far, announced length.
  let frame: { op: number; offset: number; length: number } | null = null;
  for (const e of events) {
    if (e.name !== "DATA") continue;
    const d = e;
    const where = `DATA op ${d.op} offset ${d.offset} len ${d.data.length} payload_len ${d.payloadLen}`;
    if (d.op === 8 || d.op === 9 || d.op === 10) {
      if (!d.fin || d.offset !== 0 || d.payloadLen !== d.data.length) out.problems.push(`control ${where}`);
      if (d.op !== 8) out.events.push(`${d.op === 9 ? "ping" : "pong"}:${d.data.toString("hex")}`);
      else if (out.close) out.problems.push("a second close frame reported");
      else out.close = { code: d.closeCode, reason: d.data };
      continue;
    }
    if (d.op > 2) {
      out.problems.push(`DATA with opcode ${d.op}`);
      continue;
    }
    const continuing = frame !== null && frame.offset < frame.length;
    if (continuing && (d.op !== frame!.op || d.offset !== frame!.offset))
      out.problems.push(`${where} inside a frame at ${frame!.offset} of ${frame!.length} (op ${frame!.op})`);
    if (!continuing) {
      if (d.offset !== 0) out.problems.push(`${where} starts a frame`);
      if (d.op !== 0) {
        if (out.partial) out.problems.push("a new message inside a fragmented one");
        out.partial = { kind: d.op === 1 ? "text" : "binary", parts: [] };
      } else if (!out.partial) out.problems.push("a continuation without a message");
    }
    if (d.offset + d.data.length > d.payloadLen) out.problems.push(`${where}: past the frame's end`);
    frame = { op: d.op, offset: d.offset + d.data.length, length: d.payloadLen };
    out.partial?.parts.push(d.data);
    if (!d.fin) continue;
    if (frame.offset !== frame.length) out.problems.push(`${where}: fin before the frame's end`);
    if (out.partial)
      out.events.push(`${out.partial.kind}:${Buffer.concat(out.partial.parts).toString("hex")}`);
    out.partial = null;
  }
  if (out.problems.length > 5)
    out.problems.splice(5, out.problems.length - 5, `… ${out.problems.length - 5} more`);
  return out;
}

/** The same strings in the same order (join() would take [""] for []: empty pings and pongs). */
function same(a: string[], b: string[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A connection's CLOSED or DISCONNECTED event (its last). */
function endOf(events: ClientEvent[]): ClientEvent | undefined {
  return events.filter((e) => e.name === "CLOSED" || e.name === "DISCONNECTED").at(-1);
}

/** ECONNRESET and EPIPE (Linux, on every target's ABI here). */
const ECONNRESET = 104;
const EPIPE = 32;

/**
 * A hang-up by the server (its FIN or reset, in the middle of a message or not): as esp_websocket_client, one
 * ERROR of the TCP transport with close code 1006 and the socket's errno (0 for a FIN, ECONNRESET for a reset,
 * EPIPE when a write met it first), then DISCONNECTED 1006 (its fields checked by orderProblems).
 */
function hangUpProblems(events: ClientEvent[], what: string): string[] {
  const errors = events.filter((e) => e.name === "ERROR");
  const end = endOf(events);
  const problems: string[] = [];
  if (
    errors.length !== 1 ||
    errors[0].type !== ErrorType.TcpTransport ||
    errors[0].closeCode !== 1006 ||
    ![0, ECONNRESET, EPIPE].includes(errors[0].errno)
  )
    problems.push(
      `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode} errno ${e.errno}`)} on ${what}, not one TCP transport error 1006`,
    );
  if (end?.name !== "DISCONNECTED" || end.closeCode !== 1006)
    problems.push(`ended ${end?.name} ${end?.closeCode} on ${what}, not DISCONNECTED 1006`);
  return problems;
}

/** Every client's events start with BEGIN, BEFORE_CONNECT and end with FINISH, once. */
function bracketProblems(names: string[]): string[] {
  const problems: string[] = [];
  if (names[0] !== "BEGIN" || names[1] !== "BEFORE_CONNECT")
    problems.push(`events begin ${names.slice(0, 2)}`);
  if (names.filter((n) => n === "FINISH").length !== 1 || names.at(-1) !== "FINISH")
    problems.push(`FINISH not once and last: ${short(names)}`);
  return problems;
}

/** The order every client's events keep, whatever the server did. */
function orderProblems(events: ClientEvent[]): string[] {
  const names = events.map((e) => e.name);
  const problems: string[] = [];
  problems.push(...bracketProblems(names));
  const ends = names.filter((n) => n === "CLOSED" || n === "DISCONNECTED");
  if (ends.length !== 1 || names.indexOf(ends[0]) !== names.length - 2)
    problems.push(`not one CLOSED or DISCONNECTED right before FINISH: ${short(names)}`);
  if (names.filter((n) => n === "ERROR").length > 1) problems.push(`more than one ERROR: ${short(names)}`);
  // As esp_websocket_client's, DISCONNECTED carries the error handle of the failure that ended the connection.
  const error = events.find((e) => e.name === "ERROR");
  const end = events.find((e) => e.name === "CLOSED" || e.name === "DISCONNECTED");
  const fields = (e?: ClientEvent) =>
    e ? `type ${e.type} status ${e.status} errno ${e.errno}` : "type 0 status 0 errno 0";
  if (end && fields(end) !== (end.name === "CLOSED" ? fields() : fields(error)))
    problems.push(`${end.name} ${fields(end)} after ERROR ${fields(error)}`);
  const connected = names.indexOf("CONNECTED");
  const firstData = names.indexOf("DATA");
  if (firstData >= 0 && (connected < 0 || firstData < connected)) problems.push("DATA before CONNECTED");
  for (const name of names)
    if (
      !["BEGIN", "BEFORE_CONNECT", "CONNECTED", "DATA", "ERROR", "CLOSED", "DISCONNECTED", "FINISH"].includes(
        name,
      )
    )
      problems.push(`unexpected ${name}`);
  return problems;
}

/**
 * The frames the client sent after its request: all masked, RSV 0, whole; control frames only pongs, its own
 * empty pings and one close frame; the app's messages as they were sent (in frames of max_fragment_size), each
 * one whose send returned its size (`sendResults`) when the server read to the end (`complete`), and nothing
 * after the close frame.
 */
function judgeSent(
  sent: Buffer,
  settings: CClientConfig,
  sendResults: number[],
  complete: boolean,
  cut = false,
): { frames: RawFrame[]; problems: string[] } {
  const { frames, rest } = framesOf(sent);
  const problems: string[] = [];
  // `cut`: the client gave up on a server that did not read, with bytes still queued.
  if (rest > 0 && !cut) problems.push(`${rest} bytes sent that are no whole frame`);
  const messages: string[] = [];
  let message: { kind: string; parts: Buffer[] } | null = null;
  let closed = false;
  for (const f of frames) {
    const what = `opcode ${f.opcode} fin ${f.fin} rsv ${f.rsv} masked ${f.masked} length ${f.payload.length}`;
    if (f.rsv !== 0 || !f.masked) problems.push(`frame sent with ${what}`);
    if (closed) problems.push(`frame sent after the close frame: ${what}`);
    if (f.opcode === 8) closed = true;
    if (f.opcode >= 8) {
      if (!f.fin || ![8, 9, 10].includes(f.opcode) || (f.opcode === 9 && f.payload.length > 0))
        problems.push(`unexpected control frame sent: ${what}`);
      continue;
    }
    if (settings.maxFragmentSize > 0 && f.payload.length > settings.maxFragmentSize)
      problems.push(`data frame sent longer than max_fragment_size: ${what}`);
    if (f.opcode === 0 && !message) problems.push(`continuation sent without a message: ${what}`);
    if (f.opcode !== 0 && message) problems.push(`message sent inside another: ${what}`);
    if (f.opcode > 2) problems.push(`unexpected frame sent: ${what}`);
    if (f.opcode !== 0) message = { kind: f.opcode === 1 ? "text" : "binary", parts: [] };
    message?.parts.push(f.payload);
    if (f.fin && message) messages.push(messageDigest(message.kind, Buffer.concat(message.parts)));
    if (f.fin) message = null;
  }
  const wanted = settings.sends.map((size, i) => (sendResults[i] === size ? sentMessage(i, size) : null));
  const delivered = complete ? wanted.filter((m) => m !== null) : messages;
  if (
    JSON.stringify(messages) !== JSON.stringify(delivered) ||
    messages.some((m, i) => !settings.sends.some((size, k) => k >= i && sentMessage(k, size) === m))
  )
    problems.push(
      `app messages on the wire ${short(messages)} != the sends that returned their size ${short(wanted.map(String))}`,
    );
  return { frames, problems };
}

/** Judge what the client did on an accepted connection against the model; `sent`: its bytes after the request. */
function judgeOpen(
  model: ModelResult,
  events: ClientEvent[],
  sent: Buffer,
  settings: CClientConfig,
  sendResults: number[],
): string[] {
  const got = deliveries(events);
  const problems = [...got.problems];
  const expected = model.events.map(modelEvent);
  if (JSON.stringify(got.events) !== JSON.stringify(expected))
    problems.push(`delivered ${short(got.events)} != model ${short(expected)}`);
  if (got.partial) {
    const have = Buffer.concat(got.partial.parts);
    const want = model.partial?.data ?? Buffer.alloc(0);
    if (have.length > want.length || !want.subarray(0, have.length).equals(have))
      problems.push(`streamed ${have.length} bytes of an unfinished message not a prefix of the model's`);
  }
  const outcome = model.outcome;
  // When the client ended the connection the server read all it sent; on a hang-up, what it had so far.
  const judged = judgeSent(sent, settings, sendResults, outcome.kind !== "open");
  const frames = judged.frames;
  problems.push(...judged.problems);
  const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
  const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
  // After a close frame nothing more is read, so every ping before it was answered; on a hang-up the last
  // pongs may still have been on their way.
  const allPongs = outcome.kind !== "open";
  if (allPongs ? !same(pongs, pings) : !same(pings.slice(0, pongs.length), pongs))
    problems.push(`pongs ${short(pongs)} != pings ${short(pings)}`);
  const closes = frames.filter((f) => f.opcode === 8);
  if (closes.length > 1) problems.push(`${closes.length} close frames sent`);
  const closeSent = closes[0]?.payload;
  const errors = events.filter((e) => e.name === "ERROR");
  const end = endOf(events);
  if (outcome.kind === "close") {
    if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on a clean close`);
    if (!got.close || got.close.code !== outcome.code || !got.close.reason.equals(outcome.reason))
      problems.push(
        `close reported ${got.close?.code} ${got.close?.reason.toString("hex")} != ${outcome.code} ${outcome.reason.toString("hex")}`,
      );
    if (end?.name !== "CLOSED" || end.closeCode !== outcome.code)
      problems.push(`ended ${end?.name} ${end?.closeCode}, not CLOSED ${outcome.code}`);
    if (!closeSent || !closeSent.equals(outcome.payload))
      problems.push(`close reply ${closeSent?.toString("hex")} != ${outcome.payload.toString("hex")}`);
  } else if (outcome.kind === "fail") {
    const code = errors[0]?.closeCode;
    if (errors.length !== 1 || errors[0].type !== ErrorType.Protocol || !outcome.codes.includes(code))
      problems.push(
        `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} != protocol error with one of [${outcome.codes}] (${outcome.rule})`,
      );
    const sentCode = closeSent && closeSent.length === 2 ? closeSent.readUInt16BE(0) : -1;
    if (sentCode !== code)
      problems.push(`close frame sent ${closeSent?.toString("hex")} != the error's ${code}`);
    if (end?.name !== "DISCONNECTED" || end.closeCode !== code)
      problems.push(`ended ${end?.name} ${end?.closeCode}, not DISCONNECTED ${code}`);
    if (got.close) problems.push("a close frame reported on a failed connection");
  } else {
    problems.push(...hangUpProblems(events, "a hang-up"));
    if (closeSent) problems.push("close frame sent while the server broke no rule");
  }
  return problems;
}

/** How a client with `settings` must judge connection `c`'s 101: open or not, and why. */
function verdictOf(c: Connection, settings: CClientConfig): { ok: boolean; why: string } {
  const verdict = responseVerdict(c.head, false);
  // A valid head longer than the client takes is refused as a bad one is.
  const headLength = wireHeadLength(c.head);
  if (verdict.ok && headLength > headLimit(settings))
    return { ok: false, why: `head of ${headLength} bytes > ${headLimit(settings)}` };
  return verdict;
}

/** What the client must make of `frames` (the server's bytes after its head). */
function modelOf(frames: Buffer, settings: CClientConfig): ModelResult {
  return readFrames(frames, {
    role: "client",
    maxPayload: settings.maxMessageSize || MAX_MESSAGE_SIZE_0,
    deflate: null,
  });
}

/**
 * Judge one connection of the client: `events` its events (BEFORE_CONNECT to CLOSED or DISCONNECTED), `sent`
 * what it sent after its request, `reset` the server's socket error.
 */
function judgeConnection(
  c: Connection,
  settings: CClientConfig,
  events: ClientEvent[],
  sent: Buffer,
  reset: string,
  sendResults: number[],
): string[] {
  const verdict = verdictOf(c, settings);
  const model = modelOf(Buffer.from(c.frames, "hex"), settings);
  const names = events.map((e) => e.name);
  const errors = events.filter((e) => e.name === "ERROR");
  if (!names.includes("CONNECTED")) {
    if (c.lax) return [];
    if (verdict.ok) return [`never opened on a valid 101: ${short(names)}`];
    if (errors.length !== 1 || errors[0].type !== ErrorType.Handshake)
      return [
        `bad 101 (${verdict.why}): ERROR types [${errors.map((e) => e.type)}], not one handshake error`,
      ];
    return [];
  }
  if (c.lax) return deliveries(events).problems;
  if (!verdict.ok) return [`opened on a bad 101 (${verdict.why})`];
  const problems = judgeOpen(model, events, sent, settings, sendResults);
  if (model.outcome.kind !== "open" && reset)
    problems.push(`the client reset the connection (${reset}) instead of closing it`);
  return problems;
}

/** Hostile-server cases against C clients of one driver process. */
export class CClientRun extends HostileRun {
  /**
   * Below the engine's 8 slots (CONFIG_WSK_MAX_CONNECTIONS), shared by the driver's clients, with the
   * lifecycle cases' LIFECYCLE_WORKERS beside.
   */
  override concurrency = 6;
  /** Connections the lifecycle cases' server played (refused attempts left out). */
  lifecycleConnections = 0;

  constructor(readonly driver: ClientDriver) {
    super(null as never);
  }

  protected override generateClientCase(rng: Rng): HostileCase {
    return cClientCase(rng);
  }

  /**
   * `count` lifecycle cases from `seed` (cLifecycleCase), LIFECYCLE_WORKERS at a time: meant to run beside
   * fuzz(), whose cases last milliseconds while these mostly wait.
   */
  async lifecycle(seed: number, count: number, workers = LIFECYCLE_WORKERS): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        const c = cLifecycleCase(new Rng(caseSeed(seed, LIFECYCLE_FIRST + index)), index);
        await this.run(c, `FUZZ_SEED=${seed} lifecycle case ${index}`);
      }
    };
    await Promise.all([...Array(workers)].map(worker));
  }

  override async clientCase(c: HostileCase): Promise<string[]> {
    if (c.lifecycle) return this.lifecycleCase(c, c.lifecycle);
    const port = await this.rawServer();
    const id = this.nextId++;
    this.connections++;
    const settings = { ...DEFAULT_SETTINGS, ...c.cClient };
    const verdict = verdictOf(c, settings);
    const model = modelOf(Buffer.from(c.frames, "hex"), settings);
    const client = this.driver.open(id, port, `/c/${id}`, settings, CASE_DEADLINE);
    // The server reads what the client sends (pongs, its close frame) only once the client reported the
    // connection's end, then sends one more byte: a client that closed its socket then, instead of
    // half-closing it and reading to the server's FIN, resets the connection (and a server still writing to it
    // may lose what it had not read yet).
    const ended = client.until(() => client.has("CLOSED") || client.has("DISCONNECTED"), 2 * CASE_DEADLINE);
    const serving = this.serve(id, c, ended);
    // The app sends its messages once connected (from the driver's main thread, one after another).
    void client
      .until(() => client.has("CONNECTED") || client.finished, CASE_DEADLINE)
      .then(() => {
        if (client.has("CONNECTED"))
          settings.sends.forEach((size, i) => this.driver.send(id, i % 2 === 0 ? "text" : "binary", size));
      });
    try {
      const peer = await serving.peer;
      if (!peer)
        return [`the client never sent its upgrade request: ${short(client.events.map((e) => e.name))}`];
      if (!serving.requestOk()) return ["the client's request has no Sec-WebSocket-Key"];
      const problems = await this.finish(c, verdict.ok, model, client, peer, settings.sends.length);
      problems.push(...orderProblems(client.events));
      problems.push(
        ...judgeConnection(c, settings, client.events, peer.all, peer.error, sendResults(client)),
      );
      return problems;
    } finally {
      this.unserve(id);
      this.driver.forget(id);
    }
  }

  /** Wait for the client to end as the model says; when the server's input just stops, hang up first. */
  private async finish(
    c: HostileCase,
    ok: boolean,
    model: ModelResult,
    client: DrivenClient,
    peer: Collector,
    sends: number,
  ): Promise<string[]> {
    const problems: string[] = [];
    await client.until(() => client.has("CONNECTED") || client.finished, CASE_DEADLINE);
    const sent = () => !client.has("CONNECTED") || client.replies.length >= sends;
    if (!client.finished && (c.lax || !ok || model.outcome.kind === "open")) {
      if (ok && !c.lax)
        await client.until(
          () => (deliveries(client.events).events.length >= model.events.length && sent()) || client.finished,
          CASE_DEADLINE,
        );
      // Room for an event the model does not expect to show up.
      await sleep(5);
      peer.socket.destroy();
    }
    if (!(await client.until(() => client.destroyed && sent(), CASE_DEADLINE))) {
      problems.push(
        `the client did not finish within ${CASE_DEADLINE} ms: ${short(client.events.map((e) => e.name))}`,
      );
      peer.socket.destroy();
      await client.until(() => client.destroyed, CASE_DEADLINE);
    }
    // Its last bytes (a close frame) are in once the TCP connection is closed.
    for (let i = 0; i < 100 && !peer.ended; i++) await sleep(10);
    peer.socket.destroy();
    return problems;
  }

  /** A lifecycle case: one client, the server's connections played by LivePeers, judged as its kind says. */
  private async lifecycleCase(c: HostileCase, life: CClientLifecycle): Promise<string[]> {
    const port = await this.rawServer();
    const id = this.nextId++;
    this.connections++;
    const settings = { ...DEFAULT_SETTINGS, ...c.cClient };
    const plans: Connection[] =
      life.kind === "sequence" ? [...life.episodes!, ...(life.next ?? [])] : [c, ...(life.next ?? [])];
    const peers: LivePeer[] = [];
    let refused = 0;
    this.rawCases.set(id, (socket, request, rest) => {
      // Connections past the case's: refused at once (the client reconnects until the app stops it).
      if (peers.length >= plans.length) {
        refused++;
        socket.on("error", () => {});
        socket.destroy();
        return;
      }
      this.lifecycleConnections++;
      peers.push(new LivePeer(socket, request, rest, plans[peers.length]));
    });
    const client = this.driver.open(id, port, `/c/${id}`, settings, CASE_DEADLINE);
    try {
      const problems =
        life.kind === "reconnect"
          ? await this.reconnects(plans, life, settings, client, peers, () => refused)
          : life.kind === "sequence"
            ? await this.sequence(plans, life, settings, client, peers, () => refused)
            : await this.lifecycleOne(c, life, settings, client, peers);
      if (!client.destroyed) {
        problems.push(`the client did not finish: ${short(client.events.map((e) => e.name))}`);
        for (const peer of peers) peer.socket.destroy();
        this.driver.stopClient(id);
        await client.until(() => client.destroyed, CASE_DEADLINE);
      }
      return problems;
    } finally {
      this.unserve(id);
      for (const peer of peers) peer.stop();
      this.driver.forget(id);
    }
  }

  /** The server's end of the client's `k`th connection, once the client made it (null if it never does). */
  private async peerOf(peers: LivePeer[], k: number, client: DrivenClient): Promise<LivePeer | null> {
    const deadline = Date.now() + CASE_DEADLINE;
    while (peers.length <= k && !client.finished && Date.now() < deadline) await sleep(2);
    const peer = peers[k];
    if (peer) await peer.writing;
    return peer ?? null;
  }

  /** A close, stop or ping case: one connection open at the end of its frames, then the app or the pings. */
  private async lifecycleOne(
    c: HostileCase,
    life: CClientLifecycle,
    settings: CClientConfig,
    client: DrivenClient,
    peers: LivePeer[],
  ): Promise<string[]> {
    const peer = await this.peerOf(peers, 0, client);
    if (!peer)
      return [`the client never sent its upgrade request: ${short(client.events.map((e) => e.name))}`];
    if (!peer.requestOk) return ["the client's request has no Sec-WebSocket-Key"];
    const id = client.id;
    const after = Buffer.from(life.after ?? "", "hex");
    const pongRng = new Rng(life.pongSeed ?? 0);
    const timeoutSec = settings.pingpongTimeoutSec ?? 0;
    peer.onFrame = (f) => {
      if (f.opcode === 9 && life.kind === "ping") {
        if (life.pongs === "echo") peer.send(serverFrame(10, f.payload));
        else if (life.pongs === "slow" || life.pongs === "late")
          peer.later(() => peer.send(serverFrame(10, f.payload)), pongDelay(life.pongs, timeoutSec));
        else if (life.pongs === "wrong") peer.send(serverFrame(10, pongRng.bytes(1 + pongRng.int(125))));
        else if (life.pongs === "flood")
          peer.send(
            Buffer.concat(
              [...Array(20 + pongRng.int(180))].map(() => serverFrame(10, pongRng.bytes(pongRng.int(126)))),
            ),
          );
      }
      if (f.opcode !== 8) return;
      if (life.kind === "close" && life.server === "after") peer.send(after);
      // A server ends the TCP connection once it sent and received a close frame; one whose client failed
      // the connection (a pong timeout) at once.
      if (life.kind !== "close" || peer.sentClose()) peer.end();
    };
    const model1 = modelOf(Buffer.from(c.frames, "hex"), settings);
    await client.until(() => client.has("CONNECTED") || client.finished, CASE_DEADLINE);
    if (!client.has("CONNECTED"))
      return [`never opened on a valid 101: ${short(client.events.map((e) => e.name))}`];
    const deaf = life.server === "deaf";
    if (deaf) peer.stopReading();
    settings.sends.forEach((size, i) =>
      this.driver.send(id, i % 2 === 0 ? "text" : "binary", size, deaf ? 20 : 1000),
    );
    const problems: string[] = [];
    const ready = await client.until(
      () =>
        (deliveries(client.events).events.length >= model1.events.length &&
          sendResults(client).length >= settings.sends.length) ||
        client.finished,
      CASE_DEADLINE,
    );
    if (!ready || client.finished)
      return [`the connection did not stay open for the app: ${short(client.events.map((e) => e.name))}`];
    const timeout = settings.pingpongTimeoutSec ?? 0;
    if (life.kind === "close") {
      const close = life.close!;
      if (close.bad) {
        this.driver.close(id, close.timeoutMs, close.bad.code, Buffer.from(close.bad.reason, "hex"));
        await client.until(() => client.replies.some((r) => r.startsWith("CLOSE_RETURNED")), CASE_DEADLINE);
      }
      if (life.server === "cross") peer.send(after);
      if (life.server === "stream") peer.stream(after);
      if (close.code === 1000 && close.reason === "") this.driver.close(id, close.timeoutMs);
      else this.driver.close(id, close.timeoutMs, close.code, Buffer.from(close.reason, "hex"));
      await client.until(() => client.destroyed, close.timeoutMs + CASE_DEADLINE);
    } else if (life.kind === "stop") {
      if (life.server === "after") peer.send(after);
      if (life.server === "stream") peer.stream(after);
      this.driver.stopClient(id);
      await client.until(() => client.destroyed, CASE_DEADLINE);
    } else {
      if (life.server === "stream") peer.stream(after, 50);
      if (life.pongs === "none" || life.pongs === "late")
        await client.until(
          () => client.destroyed,
          (settings.pingIntervalSec + timeout) * 1000 + CASE_DEADLINE,
        );
      else {
        // Answered pings hold the connection past the first ping's timeout: a client that took none of the
        // pongs for an answer would have ended it by then.
        await until(() => peer.pings() > timeout || client.finished, (timeout + 1) * 1000 + CASE_DEADLINE);
        await sleep(300);
        peer.stopStream();
        const model = modelOf(peer.serverSent(), settings);
        await client.until(
          () => deliveries(client.events).events.length >= model.events.length || client.finished,
          CASE_DEADLINE,
        );
        peer.socket.destroy();
        await client.until(() => client.destroyed, CASE_DEADLINE);
      }
    }
    peer.stopStream();
    if (deaf) peer.resumeReading();
    // Its last bytes are in once the TCP connection is closed.
    await until(() => peer.collector.ended, 2000);
    peer.socket.destroy();
    if (!client.destroyed) return problems;
    problems.push(...orderProblems(client.events));
    problems.push(...judgeLifecycle(c, life, settings, client, peer));
    return problems;
  }

  /**
   * A sequence case: each episode's connection in turn (the server answering the client's pings as it says,
   * then ending it as it says, the app's close refused in the reconnect wait after some), then the app's
   * close, stop, stop during a held-back 101, or stop during a close the server does not answer.
   */
  private async sequence(
    plans: Connection[],
    life: CClientLifecycle,
    settings: CClientConfig,
    client: DrivenClient,
    peers: LivePeer[],
    refused: () => number,
  ): Promise<string[]> {
    const problems: string[] = [];
    const episodes = life.episodes!;
    const timeout = settings.pingpongTimeoutSec ?? 0;
    const pinging = settings.pingIntervalSec > 0;
    const names = () => short(client.events.map((e) => e.name));
    const closeReplies = () => client.replies.filter((r) => r.startsWith("CLOSE_RETURNED"));
    let k = 0;
    for (; k < episodes.length; k++) {
      const ep = episodes[k];
      const where = `connection ${k} [${ep.note}]: `;
      const peer = await this.peerOf(peers, k, client);
      if (!peer) {
        problems.push(`${where}never came: ${names()}`);
        break;
      }
      const segment = () => connectionsOf(client.events)[k] ?? [];
      const over = () => segment().some((e) => e.name === "CLOSED" || e.name === "DISCONNECTED");
      const pongRng = new Rng(k + 1);
      let serverClosed = false;
      const answer = (payload: Buffer) => {
        if (!serverClosed && !peer.clientClosed) peer.send(serverFrame(10, payload));
      };
      peer.onFrame = (f) => {
        if (f.opcode === 9) {
          if (ep.pongs === "echo") answer(f.payload);
          else if (ep.pongs === "wrong") answer(pongRng.bytes(1 + pongRng.int(125)));
          else if (ep.pongs === "slow" || ep.pongs === "late")
            peer.later(() => answer(f.payload), pongDelay(ep.pongs, timeout));
        }
        if (f.opcode === 8) peer.end();
      };
      await client.until(() => segment().some((e) => e.name === "CONNECTED") || over(), CASE_DEADLINE);
      if (!segment().some((e) => e.name === "CONNECTED")) {
        problems.push(`${where}never opened on a valid 101: ${short(segment().map((e) => e.name))}`);
        peer.socket.destroy();
        await client.until(over, CASE_DEADLINE);
        k++;
        break;
      }
      const model1 = modelOf(Buffer.from(ep.frames, "hex"), settings);
      await client.until(
        () => deliveries(segment()).events.length >= model1.events.length || over(),
        CASE_DEADLINE,
      );
      // Pings sent past what the timeout allows unanswered: the pongs were taken as answers.
      if (pinging && ep.end !== "timeout")
        await until(() => peer.pings() > timeout || over(), (timeout + 1) * 1000 + CASE_DEADLINE);
      const tail = Buffer.from(ep.tail, "hex");
      if (!over() && ep.end === "close") {
        serverClosed = true;
        peer.send(serverFrame(8, tail));
      } else if (!over() && ep.end === "fin") {
        peer.send(tail);
        peer.end();
      } else if (!over() && ep.end === "rst") {
        peer.send(tail);
        await sleep(20);
        peer.socket.resetAndDestroy();
      }
      const wait = ep.end === "timeout" ? (timeout + 2) * 1000 + CASE_DEADLINE : CASE_DEADLINE;
      if (!(await client.until(over, wait))) {
        problems.push(`${where}did not end: ${short(segment().map((e) => e.name))}`);
        peer.socket.destroy();
        await client.until(over, CASE_DEADLINE);
      }
      // The app's close while the client waits to reconnect (sent at once, well within the wait): refused (not
      // connected), nothing changes.
      const before = closeReplies().length;
      if (ep.closeInBackoff) this.driver.close(client.id, 1000);
      if (ep.end !== "rst") await until(() => peer.collector.ended, 1000);
      peer.stop();
      problems.push(...judgeEpisode(ep, settings, segment(), peer, model1).map((p) => where + p));
      if (ep.closeInBackoff) {
        await client.until(() => closeReplies().length > before, CASE_DEADLINE);
        const reply = closeReplies()[before];
        if (reply !== `CLOSE_RETURNED ${WSK_ERR_INVALID_STATE}`)
          problems.push(`${where}wsk_client_close in the reconnect wait: ${reply}, not INVALID_STATE`);
      }
    }
    const final = life.final ?? "stop";
    const last = peers.length > k ? peers[k] : await this.peerOf(peers, k, client);
    const lastPlan = plans[k];
    const segment = () => connectionsOf(client.events)[k] ?? [];
    const lastWhere = `last connection [${final}]: `;
    const stop = async () => {
      this.driver.stopClient(client.id);
      await client.until(() => client.destroyed, CASE_DEADLINE);
      const replies = client.replies.filter((r) => r.startsWith("STOP_RETURNED"));
      if (replies.join() !== "STOP_RETURNED 0") problems.push(`wsk_client_stop: ${replies}`);
    };
    if (problems.length > 0 || final === "stop" || !lastPlan) await stop();
    else if (!last) {
      problems.push(`${lastWhere}never came: ${names()}`);
      await stop();
    } else if (final === "stop-connect") {
      // The request came and part of the 101 at most: the app stops the client while it waits for the rest.
      await sleep(20);
      await stop();
      const events = segment();
      const seen = events.map((e) => e.name);
      if (seen.includes("CONNECTED") || seen.includes("DATA"))
        problems.push(`${lastWhere}opened on part of a 101: ${short(seen)}`);
      if (seen.at(-1) !== "DISCONNECTED") problems.push(`${lastWhere}events ${short(seen)}`);
      const errors = events.filter((e) => e.name === "ERROR");
      if (errors.length > 0)
        problems.push(`${lastWhere}ERROR type ${errors[0].type} on the app's stop: ${short(seen)}`);
      last.stop();
    } else {
      const model = modelOf(Buffer.from(lastPlan.frames, "hex"), settings);
      const answered = final === "close";
      last.onFrame = (f) => {
        if (f.opcode === 9 && !last.clientClosed) last.send(serverFrame(10, f.payload));
        if (f.opcode !== 8 || !answered) return;
        last.send(serverFrame(8, f.payload));
        last.end();
      };
      const over = () => segment().some((e) => e.name === "CLOSED" || e.name === "DISCONNECTED");
      await client.until(() => segment().some((e) => e.name === "CONNECTED") || over(), CASE_DEADLINE);
      await client.until(
        () => deliveries(segment()).events.length >= model.events.length || over(),
        CASE_DEADLINE,
      );
      const before = closeReplies().length;
      this.driver.close(client.id, answered ? 2000 : 3000);
      if (answered) await client.until(() => client.destroyed, 2000 + CASE_DEADLINE);
      else {
        // The client's close frame is in and unanswered: the app stops the client while its close waits.
        await until(() => last.clientClosed || client.finished, CASE_DEADLINE);
        await stop();
        await client.until(() => closeReplies().length > before, CASE_DEADLINE);
      }
      await until(() => last.collector.ended, 1000);
      last.stop();
      const served = modelOf(last.serverSent(), settings);
      if (answered)
        problems.push(...judgeAppClose(segment(), last, served, settings, client).map((p) => lastWhere + p));
      else
        problems.push(
          ...judgeStopClosing(segment(), last, served, settings, client).map((p) => lastWhere + p),
        );
    }
    if (!client.destroyed) await stop();
    problems.push(...runOrderProblems(client.events));
    const connections = connectionsOf(client.events);
    // After the case's connections the client reconnects (at once with reconnect_timeout_ms 0) until the
    // app's stop; the attempt the stop cuts short may not have reached the server, which counts the others.
    const allowed = final === "stop" ? plans.length + refused() + 1 : plans.length;
    if (connections.length > allowed)
      problems.push(`${connections.length} connections for ${plans.length} (${final}; ${refused()} refused)`);
    return problems;
  }

  /** A reconnect case: each connection of the case in turn, then the app's close or stop; no more after. */
  private async reconnects(
    plans: Connection[],
    life: CClientLifecycle,
    settings: CClientConfig,
    client: DrivenClient,
    peers: LivePeer[],
    refused: () => number,
  ): Promise<string[]> {
    const problems: string[] = [];
    for (let k = 0; k < plans.length; k++) {
      const plan = plans[k];
      const closing = life.closeLast && k === plans.length - 1;
      const peer = await this.peerOf(peers, k, client);
      if (!peer) {
        problems.push(`connection ${k} never came: ${short(client.events.map((e) => e.name))}`);
        break;
      }
      const segment = () => connectionsOf(client.events)[k] ?? [];
      const over = () => segment().some((e) => e.name === "CLOSED" || e.name === "DISCONNECTED");
      const verdict = verdictOf(plan, settings);
      const model = modelOf(Buffer.from(plan.frames, "hex"), settings);
      if (closing)
        // The app's close, answered with the same close frame.
        peer.onFrame = (f) => {
          if (f.opcode !== 8) return;
          peer.send(serverFrame(8, f.payload));
          peer.end();
        };
      else {
        // As clientCase's server: reads held until the connection's end, then one more byte.
        peer.holdReads(client.until(over, 2 * CASE_DEADLINE));
        peer.onFrame = (f) => f.opcode === 8 && peer.end();
      }
      await client.until(() => segment().some((e) => e.name === "CONNECTED") || over(), CASE_DEADLINE);
      if (closing) {
        await client.until(
          () => deliveries(segment()).events.length >= model.events.length || over(),
          CASE_DEADLINE,
        );
        this.driver.close(client.id, 2000);
        await client.until(() => client.destroyed, 2000 + CASE_DEADLINE);
      } else if (!over() && (plan.lax || !verdict.ok || model.outcome.kind === "open")) {
        if (verdict.ok && !plan.lax)
          await client.until(
            () => deliveries(segment()).events.length >= model.events.length || over(),
            CASE_DEADLINE,
          );
        await sleep(5);
        peer.socket.destroy();
      }
      if (!(await client.until(over, CASE_DEADLINE))) {
        problems.push(`connection ${k} did not end: ${short(segment().map((e) => e.name))}`);
        peer.socket.destroy();
      }
      await until(() => peer.collector.ended, 1000);
      peer.socket.destroy();
      const where = `connection ${k} [${plan.note}]: `;
      if (closing)
        problems.push(...judgeAppClose(segment(), peer, model, settings, client).map((p) => where + p));
      else
        problems.push(
          ...judgeConnection(plan, settings, segment(), peer.collector.all, peer.collector.error, []).map(
            (p) => where + p,
          ),
        );
    }
    if (!life.closeLast) {
      this.driver.stopClient(client.id);
      await client.until(() => client.destroyed, CASE_DEADLINE);
      if (!client.replies.includes("STOP_RETURNED 0"))
        problems.push(`wsk_client_stop: ${client.replies.filter((r) => r.startsWith("STOP"))}`);
    }
    problems.push(...runOrderProblems(client.events));
    // Attempts past the case's connections (before the app's stop) met a server that hung up at once; the
    // last one may have been cut short by the stop, with no ERROR then.
    const connections = connectionsOf(client.events);
    for (const [k, extra] of connections.slice(plans.length).entries()) {
      const names = extra.map((e) => e.name);
      const errors = extra.filter((e) => e.name === "ERROR");
      const stopped = errors.length === 0 && plans.length + k === connections.length - 1 && !life.closeLast;
      if (
        names.includes("CONNECTED") ||
        (names.at(-1) === "DISCONNECTED" &&
          !stopped &&
          (errors.length !== 1 ||
            ![ErrorType.Handshake, ErrorType.TcpTransport].includes(errors[0].type as 1 | 2)))
      )
        problems.push(`attempt ${plans.length + k} (refused): ${short(names)}`);
    }
    if (life.closeLast && connections.length > plans.length)
      problems.push(
        `reconnected after the app's close: ${connections.length} connections for ${plans.length}`,
      );
    // The attempt the app's stop cuts short may not have reached the server.
    const cutShort = life.closeLast ? 0 : 1;
    if (connections.length - plans.length > refused() + cutShort)
      problems.push(
        `${connections.length - plans.length} attempts past the case's, ${refused()} reached the server`,
      );
    return problems;
  }
}

/** The results of the app's sends so far (their SENT lines). */
function sendResults(client: DrivenClient): number[] {
  return client.replies.filter((r) => r.startsWith("SENT ")).map((r) => Number(r.split(" ")[1]));
}

/** An unmasked server frame, FIN set. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head =
    n < 126 ? Buffer.from([0x80 | opcode, n]) : Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, payload]);
}

/** Wait until `ready()` or `ms` passed, polling; false on timeout. */
async function until(ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready() && Date.now() < deadline) await sleep(5);
  return ready();
}

/** The client's events per connection: each from its BEFORE_CONNECT to the next (BEGIN and FINISH left out). */
function connectionsOf(events: ClientEvent[]): ClientEvent[][] {
  const out: ClientEvent[][] = [];
  for (const e of events) {
    if (e.name === "BEFORE_CONNECT") out.push([]);
    if (e.name !== "BEGIN" && e.name !== "FINISH") out.at(-1)?.push(e);
  }
  return out;
}

/** The order of a reconnecting client's events: BEGIN, then connections, each as orderProblems says, then FINISH. */
function runOrderProblems(events: ClientEvent[]): string[] {
  const names = events.map((e) => e.name);
  const problems: string[] = [];
  problems.push(...bracketProblems(names));
  if (names.filter((n) => n === "BEGIN").length !== 1) problems.push(`BEGIN not once: ${short(names)}`);
  for (const [k, connection] of connectionsOf(events).entries()) {
    const inner = [
      { ...connection[0], name: "BEGIN" },
      ...connection,
      { ...connection[0], name: "FINISH" },
    ] as ClientEvent[];
    problems.push(...orderProblems(inner).map((p) => `connection ${k}: ${p}`));
  }
  return problems;
}

/** Frames the server sends as the case's `after`, parsed (mutated bytes may leave a rest). */
const serverFramesOf = (bytes: Buffer) => framesOf(bytes).frames;

/** The close frame payload the app's close sends: code 0 none; else the code and the reason. */
function closePayload(code: number, reasonHex: string): Buffer {
  if (code === 0) return Buffer.alloc(0);
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return Buffer.concat([payload, Buffer.from(reasonHex, "hex")]);
}

/** What wsk_client_close_with_code returns for arguments the engine refuses (WSK_ERR_INVALID_ARG or _SIZE). */
function refusalOf(code: number, reasonHex: string): number {
  const length = reasonHex.length / 2;
  if (code === 0 ? length !== 0 : !isSendableCloseCode(code)) return WSK_ERR_INVALID_ARG;
  return length > 123 ? WSK_ERR_INVALID_SIZE : WSK_ERR_INVALID_ARG;
}

const WSK_ERR_INVALID_ARG = 0x102;
const WSK_ERR_INVALID_STATE = 0x103;
/** client_driver.c's CLOSE_RETURNED for a client it no longer has (it finished and was freed). */
const DRIVER_NO_CLIENT = -1;
const WSK_ERR_INVALID_SIZE = 0x104;

/**
 * A connection the app closed (wsk_client_close) once the server's frames (open, `model`) were in, the server
 * answering with the same close frame: every delivery and pong, one close frame 1000, then CLOSED 1000.
 */
function judgeAppClose(
  events: ClientEvent[],
  peer: LivePeer,
  model: ModelResult,
  settings: CClientConfig,
  client: DrivenClient,
): string[] {
  const problems: string[] = [];
  const got = deliveries(events);
  problems.push(...got.problems);
  const expected = model.events.map(modelEvent);
  if (JSON.stringify(got.events) !== JSON.stringify(expected))
    problems.push(`delivered ${short(got.events)} != model ${short(expected)}`);
  const { frames, problems: sentProblems } = judgeSent(peer.collector.all, settings, [], true);
  problems.push(...sentProblems);
  const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
  const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
  if (!same(pongs, pings)) problems.push(`pongs ${short(pongs)} != pings ${short(pings)}`);
  const closes = frames.filter((f) => f.opcode === 8).map((f) => f.payload.toString("hex"));
  if (!same(closes, ["03e8"])) problems.push(`close frames sent ${short(closes)}, not one 1000`);
  // The last close (a sequence case's refused ones in reconnect waits come before it).
  const reply = client.replies.filter((r) => r.startsWith("CLOSE_RETURNED")).at(-1);
  if (reply !== "CLOSE_RETURNED 0") problems.push(`wsk_client_close: ${reply}`);
  const errors = events.filter((e) => e.name === "ERROR");
  if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on the app's close`);
  const end = endOf(events);
  if (end?.name !== "CLOSED" || end.closeCode !== 1000)
    problems.push(`ended ${end?.name} ${end?.closeCode}, not CLOSED 1000`);
  if (peer.collector.error) problems.push(`the client reset the connection (${peer.collector.error})`);
  return problems;
}

/** Judge a close, stop or ping case once the client is gone. */
function judgeLifecycle(
  c: HostileCase,
  life: CClientLifecycle,
  settings: CClientConfig,
  client: DrivenClient,
  peer: LivePeer,
): string[] {
  const problems: string[] = [];
  const events = client.events;
  const model1 = modelOf(Buffer.from(c.frames, "hex"), settings);
  const model = modelOf(peer.serverSent(), settings);
  const got = deliveries(events);
  problems.push(...got.problems);
  const expected = model.events.map(modelEvent);
  const isPrefix = JSON.stringify(expected.slice(0, got.events.length)) === JSON.stringify(got.events);
  const deaf = life.server === "deaf";
  const judged = judgeSent(peer.collector.all, settings, sendResults(client), !deaf, deaf);
  problems.push(...judged.problems);
  const frames = judged.frames;
  const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
  const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
  const pings1 = model1.events.filter((e) => e.kind === "ping").length;
  const pongsPrefix = pongs.length >= pings1 && same(pings.slice(0, pongs.length), pongs);
  const closes = frames.filter((f) => f.opcode === 8);
  const errors = events.filter((e) => e.name === "ERROR");
  const end = endOf(events);
  const ending = `${end?.name} ${end?.closeCode}`;
  const names = short(events.map((e) => e.name));
  // Everything the server sent up to the frames' end is delivered, then maybe more of what followed.
  const deliveredSome = () => {
    if (!isPrefix || got.events.length < model1.events.length)
      problems.push(
        `delivered ${short(got.events)}: not the model's ${short(expected)} or a prefix of it (at least ${model1.events.length})`,
      );
  };
  const deliveredAll = () => {
    if (JSON.stringify(got.events) !== JSON.stringify(expected))
      problems.push(`delivered ${short(got.events)} != model ${short(expected)}`);
  };
  if (life.kind === "stop") {
    const replies = client.replies.filter((r) => r.startsWith("STOP_RETURNED"));
    if (replies.join() !== "STOP_RETURNED 0") problems.push(`wsk_client_stop: ${replies}`);
    deliveredSome();
    if (!pongsPrefix) problems.push(`pongs ${short(pongs)} not the first of pings ${short(pings)}`);
    if (closes.length > 0) problems.push("a close frame sent on wsk_client_stop");
    if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on wsk_client_stop`);
    if (ending !== "DISCONNECTED 1006")
      problems.push(`ended ${ending} on wsk_client_stop, not DISCONNECTED 1006`);
    return problems;
  }
  if (life.kind === "ping") {
    const timeout = settings.pingpongTimeoutSec ?? 0;
    const clientPings = frames.filter((f) => f.opcode === 9).length;
    if (!pongsPrefix) problems.push(`pongs ${short(pongs)} not the first of pings ${short(pings)}`);
    if (life.pongs === "none" || life.pongs === "late") {
      deliveredSome();
      if (clientPings < 1) problems.push("timed out without a ping");
      if (errors.length !== 1 || errors[0].type !== ErrorType.PongTimeout || errors[0].closeCode !== 1011)
        problems.push(
          `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} != one pong timeout 1011: ${names}`,
        );
      const close = closes.map((f) => f.payload.toString("hex"));
      if (
        close.join() !==
        Buffer.concat([Buffer.from([3, 0xf3]), Buffer.from("heartbeat timeout")]).toString("hex")
      )
        problems.push(`close frames sent ${short(close)}, not one 1011 "heartbeat timeout"`);
      if (ending !== "DISCONNECTED 1011") problems.push(`ended ${ending}, not DISCONNECTED 1011`);
      if (peer.collector.error) problems.push(`the client reset the connection (${peer.collector.error})`);
      return problems;
    }
    // Answered: the server hung up (1006) after more pings than the timeout allows unanswered.
    const stalled = peer.stall() > 500;
    deliveredAll();
    if (clientPings <= timeout) problems.push(`${clientPings} pings sent in ${timeout + 1} s`);
    // A stalled client (a loaded machine) may have timed out first.
    if (!stalled) problems.push(...hangUpProblems(events, "the server's hang-up"));
    else if (!errors.every((e) => e.type === ErrorType.PongTimeout || e.type === ErrorType.TcpTransport))
      problems.push(
        `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} though every ping was answered (${life.pongs})`,
      );
    if (closes.length > 0 && !stalled) problems.push("a close frame sent though every ping was answered");
    return problems;
  }
  // The app's close.
  const close = life.close!;
  const replies = client.replies
    .filter((r) => r.startsWith("CLOSE_RETURNED"))
    .map((r) => Number(r.split(" ")[1]));
  if (close.bad) {
    const refusal = refusalOf(close.bad.code, close.bad.reason);
    if (replies[0] !== refusal)
      problems.push(
        `wsk_client_close_with_code(${close.bad.code}, ${close.bad.reason.length / 2}-byte reason) returned ${replies[0]}, not ${refusal}`,
      );
  }
  const returned = replies.at(-1);
  if (replies.length !== (close.bad ? 2 : 1)) problems.push(`CLOSE_RETURNED ${replies}`);
  const outcome = model.outcome;
  // Only when the server's close (or a broken rule) crossed the app's may the engine's close frame be first.
  // The driver answers -1 when the client had already finished (the server's frames ended the connection
  // before the app's close reached the driver, as under qemu when the machine is loaded).
  const engineFirst =
    life.server === "cross" &&
    (returned === WSK_ERR_INVALID_STATE || returned === DRIVER_NO_CLIENT) &&
    outcome.kind !== "open";
  if (returned !== 0 && !engineFirst) problems.push(`wsk_client_close returned ${returned}`);
  const closesHex = closes.map((f) => f.payload.toString("hex"));
  const own = closePayload(close.code, close.reason).toString("hex");
  let wanted = own;
  if (engineFirst && outcome.kind === "close") wanted = outcome.payload.toString("hex");
  if (engineFirst && outcome.kind === "fail") {
    const code = errors[0]?.closeCode ?? 0;
    wanted = Buffer.from([code >> 8, code & 0xff]).toString("hex");
  }
  const oneWanted = closesHex.length === 1 && closesHex[0] === wanted;
  // A server that stops reading may never get the close frame (queued behind what it did not read).
  if (deaf ? closesHex.length > 1 || (closesHex.length === 1 && !oneWanted) : !oneWanted)
    problems.push(`close frames sent ${short(closesHex)}, not one ${wanted}`);
  // Pongs answer the pings before the close frame only; after it, the server's pings are not answered.
  if (life.server === "after" ? pongs.length !== pings1 || !pongsPrefix : !pongsPrefix)
    problems.push(
      `pongs ${short(pongs)} != the pings before the close ${short(pings.slice(0, pings1))} (of ${pings.length})`,
    );
  if (outcome.kind === "close") {
    deliveredAll();
    if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on a clean close`);
    if (!got.close || got.close.code !== outcome.code || !got.close.reason.equals(outcome.reason))
      problems.push(
        `close reported ${got.close?.code} ${got.close?.reason.toString("hex")} != ${outcome.code} ${outcome.reason.toString("hex")}`,
      );
    if (ending !== `CLOSED ${outcome.code}`) problems.push(`ended ${ending}, not CLOSED ${outcome.code}`);
  } else if (outcome.kind === "fail") {
    deliveredAll();
    const code = errors[0]?.closeCode;
    if (errors.length !== 1 || errors[0].type !== ErrorType.Protocol || !outcome.codes.includes(code))
      problems.push(
        `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} != protocol error with one of [${outcome.codes}] (${outcome.rule})`,
      );
    if (ending !== `DISCONNECTED ${code}`) problems.push(`ended ${ending}, not DISCONNECTED ${code}`);
    if (got.close) problems.push("a close frame reported on a failed connection");
  } else {
    // The server never answered the close: the client gave up at its timeout, or the server hung up first.
    deliveredSome();
    if (errors.length > 0) problems.push(...hangUpProblems(events, `a hang-up in the app's close: ${names}`));
    if (ending !== "DISCONNECTED 1006")
      problems.push(`ended ${ending} with no close from the server, not DISCONNECTED 1006`);
  }
  if (outcome.kind !== "open" && !deaf && peer.collector.error)
    problems.push(`the client reset the connection (${peer.collector.error}) instead of closing it`);
  return problems;
}

/** One connection a case plays: a 101 head, frames, where writes are split. */
type Connection = Pick<HostileCase, "head" | "frames" | "cuts" | "note" | "lax">;

/**
 * The hostile server's end of one connection of a lifecycle case: it writes the connection's head and frames,
 * records everything it writes after the head (what the model reads), parses the client's frames as they come
 * (`onFrame`), and can stop reading, keep sending, or hang up.
 */
class LivePeer {
  readonly collector: Collector;
  readonly requestOk: boolean;
  /** The head and the connection's frames are written. */
  readonly writing: Promise<void>;
  /** Called with each whole frame the client sends, as it comes. */
  onFrame: (f: RawFrame) => void = () => {};
  private wrote = false;
  private written: Buffer[];
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private clientPings = 0;
  private streamTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout;
  private lastTick = Date.now();
  private longestStall = 0;
  private timers = new Set<NodeJS.Timeout>();
  /** The client's close frame came. */
  clientClosed = false;

  constructor(
    readonly socket: net.Socket,
    request: string,
    rest: Buffer,
    plan: Connection,
  ) {
    this.collector = new Collector(socket);
    socket.on("data", (chunk: Buffer) => this.take(chunk));
    if (rest.length > 0) {
      this.collector.bytes.push(rest);
      this.take(rest);
    }
    const key = /^Sec-WebSocket-Key: (.*)$/im.exec(request)?.[1]?.trim() ?? "";
    this.requestOk = key !== "";
    const head = plan.head.replaceAll("{accept}", acceptFor(key));
    const frames = Buffer.from(plan.frames, "hex");
    this.written = [frames];
    this.writing = writePieces(
      socket,
      splitAt(Buffer.concat([Buffer.from(head, "latin1"), frames]), plan.cuts),
    ).then(() => {
      // A head that never ends is followed by our FIN (unless the app is to stop the client while it waits).
      if (!head.includes("\r\n\r\n") && plan.note !== STOP_CONNECT) socket.end();
      this.wrote = true;
    });
    // The longest the event loop went without this 50 ms timer firing (pongs answered late by a busy test).
    this.stallTimer = setInterval(() => {
      const now = Date.now();
      this.longestStall = Math.max(this.longestStall, now - this.lastTick - 50);
      this.lastTick = now;
    }, 50);
  }

  /** Ms the test's event loop was held up the longest while this connection lived. */
  stall(): number {
    return this.longestStall;
  }

  /** Pings the client sent so far. */
  pings(): number {
    return this.clientPings;
  }

  /** Whole frames out of the client's bytes as they come (a frame's bytes joined once, when all are in). */
  private take(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    for (;;) {
      if (this.pendingLength < 2) return;
      const first =
        this.pending.length === 1
          ? this.pending[0]
          : Buffer.concat(this.pending, Math.min(this.pendingLength, 14));
      const size = frameSize(first);
      if (size < 0 || this.pendingLength < size) return;
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      const parsed = parseFrame(all.subarray(0, size))!;
      const rest = all.subarray(size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingLength = rest.length;
      if (parsed.frame.opcode === 9) this.clientPings++;
      if (parsed.frame.opcode === 8) this.clientClosed = true;
      this.onFrame(parsed.frame);
    }
  }

  /** Write `bytes` after what is written already (and remember them for the model). */
  send(bytes: Buffer): void {
    if (!this.wrote) {
      void this.writing.then(() => this.send(bytes));
      return;
    }
    if (this.socket.destroyed || this.socket.writableEnded || bytes.length === 0) return;
    this.socket.write(bytes);
    this.written.push(bytes);
  }

  /** Everything written after the head. */
  serverSent(): Buffer {
    return Buffer.concat(this.written);
  }

  /** A close frame is among what was written. */
  sentClose(): boolean {
    return serverFramesOf(this.serverSent()).some((f) => f.opcode === 8);
  }

  /** Send `bytes` every `ms` (at most 300 times) until the connection ends. */
  stream(bytes: Buffer, ms = 10): void {
    let n = 0;
    this.streamTimer = setInterval(() => {
      if (this.socket.destroyed || this.socket.writableEnded || ++n > 300) return this.stopStream();
      this.send(bytes);
    }, ms);
  }

  stopStream(): void {
    clearInterval(this.streamTimer);
  }

  /** FIN, once everything is written. */
  end(): void {
    if (!this.wrote) void this.writing.then(() => this.end());
    else if (!this.socket.destroyed) this.socket.end();
  }

  /**
   * Read nothing more, not even into Node's buffer (pause() alone keeps reading up to its high-water mark and
   * the kernel then grows the receive window): what the client sends stays in the kernel's buffers.
   */
  stopReading(): void {
    this.socket.pause();
    (this.socket as unknown as { _handle: { readStop(): void } })._handle?.readStop();
  }

  resumeReading(): void {
    (this.socket as unknown as { _handle: { readStart(): void } | null })._handle?.readStart();
    this.socket.resume();
  }

  /** Read nothing until `done`, then send one more byte (not a frame the model reads) and read again. */
  holdReads(done: Promise<unknown>): void {
    this.socket.pause();
    void done.then(() => {
      if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(Buffer.from([0]));
      this.socket.resume();
    });
  }

  /** Run `fn` in `ms` unless the connection is stopped first. */
  later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  stop(): void {
    this.stopStream();
    clearInterval(this.stallTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.socket.destroy();
  }
}

/**
 * Ms the server waits before a "slow" pong (0.4 of the timeout: in time) or a "late" one (two seconds past it:
 * the client must have timed out by then, even on a loaded machine).
 */
function pongDelay(pongs: "slow" | "late", timeoutSec: number): number {
  return pongs === "slow" ? timeoutSec * 400 : timeoutSec * 1000 + 2000;
}

/** The size of the frame whose first bytes are `head` (at least 2), -1 if its length is not in yet. */
function frameSize(head: Buffer): number {
  const length = head[1] & 0x7f;
  const mask = head[1] & 0x80 ? 4 : 0;
  if (length < 126) return 2 + mask + length;
  if (length === 126) return head.length < 4 ? -1 : 4 + mask + head.readUInt16BE(2);
  return head.length < 10 ? -1 : 10 + mask + Number(head.readBigUInt64BE(2));
}

/**
 * A sequence case's last connection, whose close the server read and never answered, the app stopping the
 * client while its close waited: both return WSK_OK; one close frame 1000, nothing after it, no ERROR,
 * DISCONNECTED 1006; what was delivered, the server's frames in order.
 */
function judgeStopClosing(
  events: ClientEvent[],
  peer: LivePeer,
  model: ModelResult,
  settings: CClientConfig,
  client: DrivenClient,
): string[] {
  const problems: string[] = [];
  const got = deliveries(events);
  problems.push(...got.problems);
  const expected = model.events.map(modelEvent);
  if (!same(expected.slice(0, got.events.length), got.events))
    problems.push(`delivered ${short(got.events)}: not a prefix of the model's ${short(expected)}`);
  const { frames, problems: sentProblems } = judgeSent(peer.collector.all, settings, [], true);
  problems.push(...sentProblems);
  const closes = frames.filter((f) => f.opcode === 8).map((f) => f.payload.toString("hex"));
  if (!same(closes, ["03e8"])) problems.push(`close frames sent ${short(closes)}, not one 1000`);
  const reply = client.replies.filter((r) => r.startsWith("CLOSE_RETURNED")).at(-1);
  if (reply !== "CLOSE_RETURNED 0") problems.push(`wsk_client_close stopped while it waited: ${reply}`);
  const errors = events.filter((e) => e.name === "ERROR");
  if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on the app's close and stop`);
  const end = endOf(events);
  if (end?.name !== "DISCONNECTED" || end.closeCode !== 1006)
    problems.push(`ended ${end?.name} ${end?.closeCode}, not DISCONNECTED 1006`);
  return problems;
}

/**
 * One connection of a sequence case, once over: ended by the server's close frame or FIN, as the model says of
 * all the server sent (the client's pongs, its close reply, its own pings, DATA byte for byte, the server's
 * pongs delivered as sent); by a reset, what came before it (at least the connection's frames), no close frame,
 * an ERROR of the TCP transport and DISCONNECTED 1006, as esp_websocket_client; by the client's pong timeout, one ERROR PONG_TIMEOUT 1011, one close frame 1011
 * "heartbeat timeout", DISCONNECTED 1011.
 */
function judgeEpisode(
  ep: CClientEpisode,
  settings: CClientConfig,
  events: ClientEvent[],
  peer: LivePeer,
  model1: ModelResult,
): string[] {
  const served = peer.serverSent();
  if (ep.end === "close" || ep.end === "fin") {
    const plan = { head: ep.head, frames: served.toString("hex"), cuts: [], note: ep.note };
    return judgeConnection(plan, settings, events, peer.collector.all, peer.collector.error, []);
  }
  const problems: string[] = [];
  const model = modelOf(served, settings);
  const got = deliveries(events);
  problems.push(...got.problems);
  const expected = model.events.map(modelEvent);
  if (!same(expected.slice(0, got.events.length), got.events) || got.events.length < model1.events.length)
    problems.push(
      `delivered ${short(got.events)}: not the model's ${short(expected)} or a prefix of it (at least ${model1.events.length})`,
    );
  const { frames, problems: sentProblems } = judgeSent(peer.collector.all, settings, [], false, true);
  problems.push(...sentProblems);
  const closes = frames.filter((f) => f.opcode === 8).map((f) => f.payload.toString("hex"));
  const errors = events.filter((e) => e.name === "ERROR");
  const end = endOf(events);
  const ending = `${end?.name} ${end?.closeCode}`;
  if (ep.end === "rst") {
    if (closes.length > 0) problems.push(`close frames sent ${short(closes)} to a server that reset`);
    problems.push(...hangUpProblems(events, "a reset"));
    return problems;
  }
  if (frames.filter((f) => f.opcode === 9).length < 1) problems.push("timed out without a ping");
  if (errors.length !== 1 || errors[0].type !== ErrorType.PongTimeout || errors[0].closeCode !== 1011)
    problems.push(
      `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} != one pong timeout 1011`,
    );
  const heartbeat = Buffer.concat([Buffer.from([3, 0xf3]), Buffer.from("heartbeat timeout")]).toString("hex");
  if (!same(closes, [heartbeat]))
    problems.push(`close frames sent ${short(closes)}, not one 1011 "heartbeat timeout"`);
  if (ending !== "DISCONNECTED 1011") problems.push(`ended ${ending}, not DISCONNECTED 1011`);
  if (peer.collector.error) problems.push(`the client reset the connection (${peer.collector.error})`);
  return problems;
}
