// A hostile peer for the host fuzzers (test/runtimes/shared/hostile-*.test.ts): a seeded generator of
// valid frame sequences and handshakes, mutated (bit flips, truncation, huge lengths, reserved opcodes and
// RSV bits, wrong masking, oversized control frames, bad text and close frames) and split at random points.
// A case is plain data (bytes as hex), so every case a run finds can be kept in test/vectors and replayed.
// Only node:zlib and node:crypto, so it runs under Node and under Bun.
import { createHash } from "node:crypto";
import * as zlib from "node:zlib";
import { utf8Error } from "./reference-model.js";

/** A small fast seeded PRNG (mulberry32): the same seed gives the same case on every runtime. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** The seed of case `index` of a run seeded with `seed`. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** The side under test's configuration for one connection. */
export interface HostConfig {
  maxPayload: number;
  fragments: "message" | "stream";
  /** perMessageDeflate enabled on the side under test (negotiated only if the handshake agrees). */
  deflate: boolean;
  /** The engine pool: "small" (mvp build, 4 KiB of I/O: reads and sends go in pieces), "large" (simd). */
  pool: "small" | "large";
}

/** One fuzz case: what the hostile peer sends, and where its writes are split. */
export interface HostileCase {
  /** The side under test. */
  role: "server" | "client";
  config: HostConfig;
  /**
   * Server under test: the upgrade request. Client under test: the response, `{accept}` standing for the
   * Sec-WebSocket-Accept of the key the client sends. Latin-1.
   */
  head: string;
  /** Frame bytes sent right after the head, hex. */
  frames: string;
  /** Offsets in head + frames where writes are split. */
  cuts: number[];
  /** How the case was made (mutations applied), or why it is kept. */
  note: string;
  /** Client under test: the head is a random mutation the model does not judge (only invariants checked). */
  lax?: boolean;
  /** The C client under test (test/runtimes/wamr/hostile-client.ts): its settings for this connection. */
  cClient?: CClientConfig;
  /** The C client under test: what its app and the server do over time (absent: a connection of milliseconds). */
  lifecycle?: CClientLifecycle;
}

/** The C client's wsk_client_config_t settings that a hostile case varies. */
export interface CClientConfig {
  /** buffer_size: bytes per socket read and the largest 101 head. */
  bufferSize: number;
  /** max_message_size: 1009 beyond; 0 is no limit. */
  maxMessageSize: number;
  /** ping_interval_sec: the client's own pings when idle (0: none). */
  pingIntervalSec: number;
  /** max_fragment_size: the client's own messages go in frames of this size (0: one frame). */
  maxFragmentSize: number;
  /** Messages the app sends as soon as the client reports CONNECTED: their sizes (text, binary, text...). */
  sends: number[];
  /** pingpong_timeout_sec: no pong this long after a ping ends the connection (1011); 0 or absent: never. */
  pingpongTimeoutSec?: number;
  /** reconnect_timeout_ms with auto-reconnect on; absent: disable_auto_reconnect. */
  reconnectTimeoutMs?: number;
}

/**
 * A C client's connection over time (test/runtimes/wamr/hostile-client.ts): after the case's head and frames
 * (which leave the connection open), the app closes or stops the client, or the client's pings meet a server
 * that answers them in some way, or the client reconnects to the next connections of `next`.
 */
export interface CClientLifecycle {
  kind: "close" | "stop" | "ping" | "reconnect" | "sequence";
  /**
   * close: the app's wsk_client_close_with_code (code 1000 and no reason: wsk_client_close), once the frames
   * are delivered; `bad` first: arguments the engine must refuse (nothing sent, the connection goes on).
   */
  close?: { code: number; reason: string; timeoutMs: number; bad?: { code: number; reason: string } };
  /**
   * close, stop, ping: what the server does meanwhile. "after": sends `after` once the client's close frame came
   * (stop: at once, then the app stops); "cross": sends `after` as the app closes; "stream": sends `after` (whole
   * messages) again and again, 10 ms apart, until the client is gone; "deaf": stops reading before the app's
   * sends (then larger) and close, and sends nothing more; "quiet": nothing.
   */
  server?: "after" | "cross" | "stream" | "deaf" | "quiet";
  /** Frames (hex) the server sends as `server` says. */
  after?: string;
  /**
   * ping: how the server answers each ping of the client: not at all, the same payload, another, many pongs,
   * the same payload half the timeout late (in time), or a second past the timeout (too late).
   */
  pongs?: "none" | "echo" | "wrong" | "flood" | "slow" | "late";
  /** ping: seed of the payloads of "wrong" and "flood" pongs. */
  pongSeed?: number;
  /** reconnect: the connections after the first, each as a case's head, frames and cuts. */
  next?: Array<Pick<HostileCase, "head" | "frames" | "cuts" | "note" | "lax">>;
  /** reconnect: the app closes the last connection (if it opens) rather than stopping the client after it. */
  closeLast?: boolean;
  /** sequence: the connections of a reconnecting client, each opened with a valid 101, in turn. */
  episodes?: CClientEpisode[];
  /**
   * sequence: what the app does after them: closes a last connection the server answers ("close"), stops the
   * client ("stop"), stops it while the server holds back its 101 ("stop-connect"), or closes a last connection
   * the server does not answer and stops the client while that close waits ("stop-closing").
   */
  final?: "close" | "stop" | "stop-connect" | "stop-closing";
}

/** One connection of a C client's sequence case: opened, then ended by the server or by the client's pings. */
export interface CClientEpisode {
  /** A valid 101 head ({accept}), frames (hex) that leave the connection open, where writes are split. */
  head: string;
  frames: string;
  cuts: number[];
  note: string;
  /** How the server answers the client's pings (as CClientLifecycle's), when the client pings. */
  pongs: "none" | "echo" | "wrong" | "slow" | "late";
  /**
   * How it ends, once the frames are in (and, when the client pings, once it pinged more often than its timeout
   * allows unanswered): the server's close frame `tail` ("close"); part of a frame `tail`, then a reset ("rst")
   * or FIN ("fin"); or the client's pong timeout ("timeout", pongs "none" or "late").
   */
  end: "close" | "rst" | "fin" | "timeout";
  /** Hex: the close frame's payload ("close"), or the bytes written before the reset or FIN. */
  tail: string;
  /** The app calls wsk_client_close in the reconnect wait that follows (refused: the client reconnects). */
  closeInBackoff?: boolean;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Sec-WebSocket-Accept for `key`. */
export function acceptFor(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
  mask: boolean;
  /** Announce this length instead of the payload's (a huge length, or a lie). */
  announced?: number | bigint;
  /** Use the 16- or 64-bit length form even when shorter fits (legal, not minimal). */
  wide?: 16 | 64;
}

function serialize(frame: Frame, rng: Rng): Buffer {
  const length = frame.announced ?? frame.payload.length;
  const big = BigInt(length);
  const head: number[] = [(frame.fin ? 0x80 : 0) | (frame.rsv << 4) | frame.opcode];
  const maskBit = frame.mask ? 0x80 : 0;
  if (big < 126n && !frame.wide) head.push(maskBit | Number(big));
  else if (big < 65536n && frame.wide !== 64)
    head.push(maskBit | 126, Number(big >> 8n), Number(big & 0xffn));
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((big >> shift) & 0xffn));
  }
  if (!frame.mask) return Buffer.concat([Buffer.from(head), frame.payload]);
  const key = rng.bytes(4);
  const body = Buffer.from(frame.payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

const TEXT_PIECES = [
  "a",
  "hello ",
  " ",
  "\uFEFF",
  "\0",
  "\uFFFF",
  "é",
  "€",
  "😀",
  "\u{10FFFF}",
  "\uFFFD",
  "日本",
  "\u{1F600}\u{1F601}",
  '{"k":[1,2,3]}',
];
export const BAD_UTF8 = [
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xff],
  [0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];
export const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
];
export const INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535];

const PIECE_BYTES = TEXT_PIECES.map((piece) => Buffer.from(piece));

export function randomText(rng: Rng, size: number): Buffer {
  const pieces: Buffer[] = [];
  for (let bytes = 0; bytes < size;) {
    const piece = rng.pick(PIECE_BYTES);
    pieces.push(piece);
    bytes += piece.length;
  }
  return Buffer.concat(pieces);
}

function payloadSize(rng: Rng, maxPayload: number): number {
  const r = rng.next();
  if (r < 0.35) return rng.int(20);
  if (r < 0.6) return rng.int(400);
  if (r < 0.75) return rng.pick([125, 126, 127, 65535, 65536, 65537].filter((n) => n < 70_000));
  if (r < 0.9) return rng.int(5000);
  // Around the limit, on both sides.
  return Math.max(0, Math.min(maxPayload + rng.int(40) - 20, 100_000));
}

/** What the receiving end agreed to for deflate: history it keeps and the window the sender may use. */
export interface DeflateAgreement {
  historyBytes: number;
  windowBits: number;
}

function compress(data: Buffer, agreement: DeflateAgreement, history: Buffer): Buffer {
  const dictionary = history.subarray(-Math.min(agreement.historyBytes, 1 << agreement.windowBits));
  const out = zlib.deflateRawSync(data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    windowBits: agreement.windowBits,
    dictionary: dictionary.length > 0 ? dictionary : undefined,
  });
  const n = out.length;
  const tail = n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff;
  return tail ? out.subarray(0, n - 4) : out;
}

/**
 * A valid sequence of frames from a peer, then mutated; `notes` says what was done. With `valid`, whole messages
 * and pings and pongs only: no close frame, no mutation (sizes may still pass `maxPayload`).
 */
export function generateFrames(
  rng: Rng,
  masked: boolean,
  maxPayload: number,
  deflate: DeflateAgreement | null,
  notes: string[],
  valid = false,
): Buffer {
  const frames: Frame[] = [];
  const control = (opcode: number, payload: Buffer): Frame => ({
    fin: true,
    rsv: 0,
    opcode,
    payload,
    mask: masked,
  });
  let history = Buffer.alloc(0);
  const messages = rng.int(7);
  for (let m = 0; m < messages; m++) {
    if (rng.chance(0.2)) {
      frames.push(control(rng.pick([9, 10]), rng.bytes(rng.int(126))));
      continue;
    }
    const binary = rng.chance(0.5);
    const size = payloadSize(rng, maxPayload);
    let data = binary ? rng.bytes(size) : randomText(rng, size);
    if (!valid && !binary && rng.chance(0.05)) {
      // Invalid text: a bad sequence somewhere, or a character cut at the end.
      const at = rng.int(data.length + 1);
      data = Buffer.concat([data.subarray(0, at), Buffer.from(rng.pick(BAD_UTF8)), data.subarray(at)]);
      notes.push("bad-utf8");
    }
    let payload = data;
    const compressed = deflate !== null && rng.chance(0.5);
    if (compressed) {
      payload = compress(data, deflate, history);
      if (deflate.historyBytes > 0) history = Buffer.concat([history, data]).subarray(-deflate.historyBytes);
    }
    // Fragments at random offsets (inside characters too), with control frames between them.
    const cuts = rng.chance(0.4) ? [...Array(1 + rng.int(4))].map(() => rng.int(payload.length + 1)) : [];
    cuts.sort((a, b) => a - b);
    const bounds = [0, ...cuts, payload.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (i > 0 && rng.chance(0.25)) frames.push(control(rng.pick([9, 10]), rng.bytes(rng.int(20))));
      frames.push({
        fin: i + 2 === bounds.length,
        rsv: i === 0 && compressed ? 4 : 0,
        opcode: i === 0 ? (binary ? 2 : 1) : 0,
        payload: payload.subarray(bounds[i], bounds[i + 1]),
        mask: masked,
        wide: rng.chance(0.05) ? rng.pick([16, 64] as const) : undefined,
      });
    }
  }
  if (valid) return Buffer.concat(frames.map((f) => serialize(f, rng)));
  if (rng.chance(0.75)) frames.push(control(8, closeFramePayload(rng, notes)));
  if (rng.chance(0.6)) mutateFrames(rng, frames, masked, notes);
  let bytes: Buffer = Buffer.concat(frames.map((f) => serialize(f, rng)));
  if (rng.chance(0.25)) bytes = mutateBytes(rng, bytes, notes);
  return bytes;
}

function closeFramePayload(rng: Rng, notes: string[]): Buffer {
  const r = rng.next();
  const code = Buffer.alloc(2);
  if (r < 0.15) return Buffer.alloc(0);
  if (r < 0.2) {
    notes.push("close-1-byte");
    return rng.bytes(1);
  }
  if (r < 0.3) {
    notes.push("close-bad-code");
    code.writeUInt16BE(rng.pick(INVALID_CLOSE_CODES));
    return code;
  }
  code.writeUInt16BE(rng.pick(VALID_CLOSE_CODES));
  let reason = randomText(rng, rng.int(40));
  if (rng.chance(0.1)) {
    notes.push("close-bad-reason");
    reason = Buffer.concat([reason, Buffer.from(rng.pick(BAD_UTF8))]);
  }
  if (rng.chance(0.05)) {
    notes.push("close-long");
    reason = randomText(rng, 124);
  }
  // Cut to fit in a control frame without ending inside a character (unless the cut makes it invalid).
  let cut = Math.min(reason.length, 123);
  while (cut > 0 && utf8Error(reason.subarray(0, cut))?.incomplete) cut--;
  return Buffer.concat([code, notes.includes("close-long") ? reason : reason.subarray(0, cut)]);
}

function mutateFrames(rng: Rng, frames: Frame[], masked: boolean, notes: string[]): void {
  const rounds = 1 + rng.int(2);
  for (let r = 0; r < rounds && frames.length > 0; r++) {
    const i = rng.int(frames.length);
    const f = frames[i];
    switch (rng.int(10)) {
      case 0:
        f.rsv = 1 + rng.int(7);
        notes.push(`rsv${f.rsv}@${i}`);
        break;
      case 1:
        f.opcode = rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
        notes.push(`opcode${f.opcode}@${i}`);
        break;
      case 2:
        f.mask = !masked;
        notes.push(`mask${f.mask ? 1 : 0}@${i}`);
        break;
      case 3:
        f.fin = !f.fin;
        notes.push(`fin@${i}`);
        break;
      case 4:
        frames[i] = { ...f, opcode: rng.pick([8, 9, 10]), fin: true, payload: rng.bytes(126 + rng.int(200)) };
        notes.push(`control-too-long@${i}`);
        break;
      case 5: {
        const huge = rng.pick([
          2n ** 32n,
          2n ** 53n,
          2n ** 62n,
          2n ** 63n,
          2n ** 64n - 1n,
          70_000n,
          16n << 20n,
        ]);
        f.announced = huge + BigInt(rng.int(3));
        notes.push(`length${f.announced}@${i}`);
        break;
      }
      case 6:
        f.announced = Math.max(0, f.payload.length + rng.int(9) - 4);
        notes.push(`length-lie@${i}`);
        break;
      case 7:
        frames.splice(i, 1);
        notes.push(`drop@${i}`);
        break;
      case 8:
        frames.splice(i, 0, { ...f });
        notes.push(`dup@${i}`);
        break;
      default: {
        const j = rng.int(frames.length);
        [frames[i], frames[j]] = [frames[j], frames[i]];
        notes.push(`swap${i},${j}`);
      }
    }
  }
}

function mutateBytes(rng: Rng, bytes: Buffer, notes: string[]): Buffer {
  const out = Buffer.from(bytes);
  switch (rng.int(4)) {
    case 0:
      for (let k = 1 + rng.int(3); k > 0 && out.length > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
      notes.push("bitflip");
      return out;
    case 1:
      if (out.length > 0) out[rng.int(out.length)] = rng.int(256);
      notes.push("byte");
      return out;
    case 2:
      notes.push("truncate");
      return out.subarray(0, rng.int(out.length + 1));
    default: {
      const at = rng.int(out.length + 1);
      notes.push("insert");
      return Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(8)), out.subarray(at)]);
    }
  }
}

/** Random offsets where `total` bytes are split into writes: none, a few, or (short input) every byte. */
export function randomCuts(rng: Rng, total: number): number[] {
  const r = rng.next();
  if (r < 0.2 || total < 2) return [];
  if (r < 0.3 && total <= 150) return [...Array(total - 1)].map((_, i) => i + 1);
  const cuts = new Set<number>();
  for (let k = 1 + rng.int(6); k > 0; k--) cuts.add(1 + rng.int(total - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** The pieces of `bytes` at `cuts`. */
export function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let last = 0;
  for (const cut of cuts) {
    if (cut <= last || cut >= bytes.length) continue;
    pieces.push(bytes.subarray(last, cut));
    last = cut;
  }
  pieces.push(bytes.subarray(last));
  return pieces;
}

const MAX_PAYLOADS = [64, 1000, 70_000, 1 << 20];

/** A random configuration of the side under test. */
export function randomConfig(rng: Rng): HostConfig {
  return {
    maxPayload: rng.pick(MAX_PAYLOADS),
    fragments: rng.chance(0.5) ? "stream" : "message",
    deflate: rng.chance(0.5),
    pool: rng.chance(0.5) ? "small" : "large",
  };
}

/** Every configuration a server under test may have (one server each). */
export function allServerConfigs(): HostConfig[] {
  const configs: HostConfig[] = [];
  for (const maxPayload of MAX_PAYLOADS)
    for (const fragments of ["message", "stream"] as const)
      for (const deflate of [false, true])
        for (const pool of ["small", "large"] as const)
          configs.push({ maxPayload, fragments, deflate, pool });
  return configs;
}

/** A configuration's name, used as the server's key. */
export function configKey(config: HostConfig): string {
  return `${config.maxPayload}/${config.fragments}/${config.deflate ? "deflate" : "plain"}/${config.pool}`;
}

// Server under test: deflate offers and what the server keeps for inflating after accepting each.
const OFFERS: Array<{ offer: string; agreement: DeflateAgreement }> = [
  { offer: "permessage-deflate", agreement: { historyBytes: 32768, windowBits: 15 } },
  { offer: "permessage-deflate; client_no_context_takeover", agreement: { historyBytes: 0, windowBits: 15 } },
  {
    offer: "permessage-deflate; client_max_window_bits=10",
    agreement: { historyBytes: 1024, windowBits: 10 },
  },
  {
    offer: "permessage-deflate; client_max_window_bits; server_no_context_takeover",
    agreement: { historyBytes: 32768, windowBits: 15 },
  },
];

// Broken upgrade requests, one rule each (RFC 6455 §4.2.1, docs/ENGINE.md "Rules and decisions").
const REQUEST_DAMAGE: Array<[string, (lines: string[]) => string[]]> = [
  ["no-upgrade", (lines) => lines.filter((l) => !l.startsWith("Upgrade:"))],
  ["upgrade-h2c", (lines) => lines.map((l) => (l.startsWith("Upgrade:") ? "Upgrade: h2c" : l))],
  [
    "no-connection",
    (lines) => lines.map((l) => (l.startsWith("Connection:") ? "Connection: keep-alive" : l)),
  ],
  [
    "version-12",
    (lines) => lines.map((l) => (l.startsWith("Sec-WebSocket-Version:") ? "Sec-WebSocket-Version: 12" : l)),
  ],
  ["no-version", (lines) => lines.filter((l) => !l.startsWith("Sec-WebSocket-Version:"))],
  ["post", (lines) => [lines[0].replace("GET", "POST"), ...lines.slice(1)]],
  ["http-1.0", (lines) => [lines[0].replace("HTTP/1.1", "HTTP/1.0"), ...lines.slice(1)]],
  ["http-2.0", (lines) => [lines[0].replace("HTTP/1.1", "HTTP/2.0"), ...lines.slice(1)]],
  [
    "bad-key",
    (lines) => lines.map((l) => (l.startsWith("Sec-WebSocket-Key:") ? "Sec-WebSocket-Key: c2hvcnQ=" : l)),
  ],
  ["two-keys", (lines) => [...lines, lines.find((l) => l.startsWith("Sec-WebSocket-Key:"))!]],
  ["no-host", (lines) => lines.filter((l) => !l.startsWith("Host:"))],
  ["two-hosts", (lines) => [...lines, "Host: other"]],
  ["folded", (lines) => [...lines, "X-Folded: a", " b"]],
];

/** A case for a server under test: an upgrade request (maybe offering deflate, maybe broken), then frames. */
export function serverCase(rng: Rng, config: HostConfig): HostileCase {
  const notes: string[] = [];
  const offer = rng.chance(0.7) ? rng.pick(OFFERS) : null;
  const key = rng.bytes(16).toString("base64");
  let lines = [
    "GET /fuzz HTTP/1.1",
    "Host: fuzz",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...(offer ? [`Sec-WebSocket-Extensions: ${offer.offer}`] : []),
  ];
  let eol = "\r\n";
  if (rng.chance(0.06)) {
    const [name, damage] = rng.pick(REQUEST_DAMAGE);
    lines = damage(lines);
    notes.push(`request-${name}`);
  } else if (rng.chance(0.01)) {
    eol = "\n";
    notes.push("request-bare-lf");
  }
  const head = lines.join(eol) + eol + eol;
  const agreement = config.deflate && offer ? offer.agreement : null;
  const frames = generateFrames(rng, true, config.maxPayload, agreement, notes);
  const total = head.length + frames.length;
  return {
    role: "server",
    config,
    head,
    frames: frames.toString("hex"),
    cuts: randomCuts(rng, total),
    note: notes.join(" "),
  };
}

/**
 * The reference judgment of an upgrade request (RFC 6455 §4.2.1-4.2.2 with the project's choices in
 * docs/ENGINE.md): the HTTP status a server answers it with, 101 to accept.
 */
export function requestVerdict(head: string): number {
  const end = head.indexOf("\r\n\r\n");
  if (end < 0) return 400;
  const lines = head.slice(0, end).split("\r\n");
  if (lines.some((line) => /[\r\n]/.test(line))) return 400;
  const request = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\/[\x21-\x7e]*) HTTP\/(\d)\.(\d)$/.exec(lines[0]);
  if (!request) return 400;
  if (request[3] !== "1") return 505;
  if (request[4] === "0") return 400;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return 400;
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const values = (name: string) => headers.get(name) ?? [];
  const tokens = (name: string) =>
    values(name).flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase()));
  // On its own port the server answers a request that asks no upgrade (node:http's rule) 426, as ws does.
  if (values("upgrade").length === 0 || !tokens("connection").includes("upgrade")) return 426;
  if (request[1] !== "GET") return 405;
  // Every other broken rule is ws's 400 (version 8 is accepted, as ws does).
  if (!tokens("upgrade").includes("websocket")) return 400;
  const key = values("sec-websocket-key");
  if (key.length !== 1 || !/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key[0])) return 400;
  const version = values("sec-websocket-version");
  if (version.length !== 1 || (version[0] !== "13" && version[0] !== "8")) return 400;
  if (values("host").length !== 1) return 400;
  return 101;
}

/** What the server under test agreed to for deflate, read from the request the case sends (model input). */
export function serverAgreement(c: HostileCase): DeflateAgreement | null {
  if (!c.config.deflate) return null;
  const line = /^Sec-WebSocket-Extensions: (.*)$/m.exec(c.head);
  if (!line) return null;
  const offer = OFFERS.find((o) => o.offer === line[1].trim());
  if (!offer) throw new Error(`unknown offer in case: ${line[1]}`);
  return offer.agreement;
}

// Client under test: 101 responses, valid and broken.
const VALID_EXTENSIONS = [
  "permessage-deflate",
  "permessage-deflate; server_no_context_takeover",
  "permessage-deflate; server_max_window_bits=10",
  "permessage-deflate; client_max_window_bits=12",
  "permessage-deflate;client_no_context_takeover",
];
const INVALID_EXTENSIONS = [
  "x-webkit-deflate-frame",
  "permessage-deflate; bogus=1",
  "permessage-deflate; server_max_window_bits=16",
  "permessage-deflate, permessage-deflate",
  "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
];

/** A case for a client under test: a 101 (valid or broken, split anywhere, frames glued behind it). */
export function clientCase(rng: Rng, config: HostConfig): HostileCase {
  const notes: string[] = [];
  let status = "HTTP/1.1 101 Switching Protocols";
  const lines = new Map<string, string[]>([
    ["upgrade", [rng.pick(["Upgrade: websocket", "upgrade: WebSocket", "Upgrade: foo, websocket"])]],
    [
      "connection",
      [rng.pick(["Connection: Upgrade", "connection: keep-alive, upgrade", "Connection: upgrade"])],
    ],
    ["accept", ["Sec-WebSocket-Accept: {accept}"]],
    ["extra", rng.chance(0.2) ? ["Server: hostile", "X-Fuzz: 1"] : []],
  ]);
  let extensions: string | null = null;
  if (config.deflate && rng.chance(0.7)) extensions = rng.pick(VALID_EXTENSIONS);
  const r = rng.next();
  let eol = "\r\n";
  if (r < 0.05) {
    extensions = rng.pick(INVALID_EXTENSIONS);
    notes.push("bad-extension");
  } else if (r < 0.08) {
    extensions = "permessage-deflate";
    notes.push("extension-maybe-not-offered");
  } else if (r < 0.1) {
    lines.set("accept", [`Sec-WebSocket-Accept: ${rng.bytes(20).toString("base64")}`]);
    notes.push("bad-accept");
  } else if (r < 0.12) {
    lines.set("accept", []);
    notes.push("no-accept");
  } else if (r < 0.13) {
    lines.set("accept", ["Sec-WebSocket-Accept: {accept}", "Sec-WebSocket-Accept: {accept}"]);
    notes.push("two-accepts");
  } else if (r < 0.15) {
    lines.set("upgrade", rng.chance(0.5) ? [] : ["Upgrade: h2c"]);
    notes.push("no-upgrade");
  } else if (r < 0.17) {
    lines.set("connection", rng.chance(0.5) ? [] : ["Connection: close"]);
    notes.push("no-connection");
  } else if (r < 0.19) {
    status = rng.pick(["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.0 101 Switching Protocols"]);
    notes.push("status");
  } else if (r < 0.2) {
    lines.set("extra", ["Sec-WebSocket-Protocol: chat"]);
    notes.push("protocol-not-offered");
  } else if (r < 0.21) {
    eol = "\n";
    notes.push("bare-lf");
  }
  let head = [status, ...[...lines.values()].flat()].join(eol) + eol;
  if (extensions !== null) head += `Sec-WebSocket-Extensions: ${extensions}${eol}`;
  head += eol;
  let lax = false;
  if (rng.chance(0.04)) {
    // Random damage to the head: the model does not judge it; the invariants still hold.
    const bytes = Buffer.from(head, "latin1");
    for (let k = 1 + rng.int(3); k > 0; k--) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
    head = bytes.toString("latin1");
    lax = true;
    notes.push("head-bitflip");
  } else if (rng.chance(0.03)) {
    head = head.slice(0, rng.int(head.length));
    notes.push("head-cut");
  }
  const agreement = responseVerdict(head, config.deflate).deflate;
  const frames = generateFrames(rng, false, config.maxPayload, agreement, notes);
  return {
    role: "client",
    config,
    head,
    frames: frames.toString("hex"),
    cuts: randomCuts(rng, head.length + 28 + frames.length),
    note: notes.join(" "),
    ...(lax ? { lax } : {}),
  };
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The reference judgment of a 101 response (RFC 6455 §4.1, RFC 7692 §7.1), with `{accept}` standing for
 * the right accept value: whether the client must open, and the deflate agreement it reaches.
 */
export function responseVerdict(
  head: string,
  deflateOffered: boolean,
): { ok: boolean; deflate: DeflateAgreement | null; why: string } {
  const bad = (why: string) => ({ ok: false, deflate: null, why });
  const end = head.indexOf("\r\n\r\n");
  if (end < 0) return bad("no end of head");
  const lines = head.slice(0, end).split("\r\n");
  if (lines.some((line) => line.includes("\n") || line.includes("\r"))) return bad("bare CR or LF");
  if (!/^HTTP\/1\.\d 101 [\x20-\x7e]*$/.test(lines[0]) || lines[0].startsWith("HTTP/1.0"))
    return bad("status line");
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return bad("header line");
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const tokens = (name: string) =>
    (headers.get(name) ?? []).flatMap((v) => v.split(",").map((t) => t.trim().toLowerCase()));
  if (!tokens("upgrade").includes("websocket")) return bad("Upgrade");
  if (!tokens("connection").includes("upgrade")) return bad("Connection");
  const accept = headers.get("sec-websocket-accept") ?? [];
  if (accept.length !== 1 || accept[0] !== "{accept}") return bad("Sec-WebSocket-Accept");
  if (headers.has("sec-websocket-protocol")) return bad("protocol not offered");
  const extensions = headers.get("sec-websocket-extensions");
  if (!extensions) return { ok: true, deflate: null, why: "" };
  if (!deflateOffered) return bad("extension not offered");
  const elements = extensions.join(",").split(",");
  if (elements.length !== 1) return bad("more than one extension");
  const [name, ...params] = elements[0].split(";").map((p) => p.trim());
  if (name.toLowerCase() !== "permessage-deflate") return bad("extension not offered");
  let historyBytes = 32768;
  let windowBits = 15;
  const seen = new Set<string>();
  for (const param of params) {
    const [key, value] = param.split("=").map((p) => p.trim().toLowerCase());
    if (seen.has(key)) return bad(`duplicate ${key}`);
    seen.add(key);
    if (key === "server_no_context_takeover" && value === undefined) historyBytes = 0;
    else if (key === "client_no_context_takeover" && value === undefined) continue;
    else if (key === "server_max_window_bits" && /^(8|9|1[0-5])$/.test(value ?? ""))
      windowBits = Number(value);
    else if (key === "client_max_window_bits" && /^(8|9|1[0-5])$/.test(value ?? "")) continue;
    else return bad(`parameter ${param}`);
  }
  if (historyBytes > 0) historyBytes = 1 << windowBits;
  return { ok: true, deflate: { historyBytes, windowBits: Math.max(windowBits, 9) }, why: "" };
}
