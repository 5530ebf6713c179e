// A raw-TCP WebSocket peer for bench/attacks.ts and bench/attack-canary.ts: it writes whatever bytes an
// attack wants, reads the server's answer (HTTP status, frames, close code) and records how the connection
// ended (close frame, FIN, reset), so the attacks depend on no WebSocket library on the client side.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** A masked (client) frame; `length` overrides the announced payload length (for lying headers). */
export function clientFrame(
  opcode: number,
  payload: Uint8Array = new Uint8Array(0),
  { fin = true, rsv1 = false, length }: { fin?: boolean; rsv1?: boolean; length?: bigint } = {},
): Buffer {
  const announced = length ?? BigInt(payload.length);
  const first = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  let header: Buffer;
  if (announced < 126n) header = Buffer.from([first, 0x80 | Number(announced)]);
  else if (announced <= 0xffffn) {
    header = Buffer.from([first, 0xfe, 0, 0]);
    header.writeUInt16BE(Number(announced), 2);
  } else {
    header = Buffer.from([first, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.writeBigUInt64BE(announced, 2);
  }
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([header, key, body]);
}

/** The opening request's head, with `extra` header lines (each ending in CRLF). */
export function upgradeRequest(port: number, extra = ""): string {
  return (
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** Reads server frames incrementally; keeps payloads only of control frames and of `keep` opcodes. */
class FrameReader {
  private header = Buffer.alloc(14);
  private headerLength = 0;
  private remaining = 0;
  private inPayload = false;
  private opcode = 0;
  private fin = false;
  private chunks: Buffer[] = [];

  constructor(
    private readonly onFrame: (opcode: number, fin: boolean, payload: Buffer | null) => void,
    private readonly onData: (bytes: number) => void,
    private readonly keep: (opcode: number) => boolean,
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.inPayload) {
        this.header[this.headerLength++] = chunk[at++];
        const need = this.headerNeeds();
        if (this.headerLength < need) continue;
        this.startPayload();
        if (this.remaining === 0) this.finish();
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - at);
      if (this.keep(this.opcode) || this.opcode >= Opcode.Close) this.chunks.push(chunk.subarray(at, at + n));
      if (this.opcode < Opcode.Close) this.onData(n);
      at += n;
      this.remaining -= n;
      if (this.remaining === 0) this.finish();
    }
  }

  private headerNeeds(): number {
    if (this.headerLength < 2) return 2;
    const len7 = this.header[1] & 0x7f;
    const mask = this.header[1] & 0x80 ? 4 : 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask;
  }

  private startPayload(): void {
    const len7 = this.header[1] & 0x7f;
    this.opcode = this.header[0] & 0x0f;
    this.fin = (this.header[0] & 0x80) !== 0;
    this.remaining =
      len7 === 126
        ? this.header.readUInt16BE(2)
        : len7 === 127
          ? Number(this.header.readBigUInt64BE(2))
          : len7;
    this.inPayload = true;
  }

  private finish(): void {
    const kept = this.keep(this.opcode) || this.opcode >= Opcode.Close;
    const payload = kept ? Buffer.concat(this.chunks) : null;
    this.chunks = [];
    this.inPayload = false;
    this.headerLength = 0;
    this.onFrame(this.opcode, this.fin, payload);
  }
}

export interface PeerOptions {
  /** Send the ordinary upgrade request at once (default true); false: the attack writes its own head. */
  upgrade?: boolean;
  /** Extra request header lines for the ordinary upgrade request. */
  extra?: string;
  /** Answer the server's pings (default true): a live client. */
  autoPong?: boolean;
  /** Called with each whole text/binary frame's payload (kept only when set). */
  onFrame?: (opcode: number, fin: boolean, payload: Buffer) => void;
}

/** Every peer of this process not yet closed, so a harness can destroy what an attack left open. */
export const livePeers = new Set<Peer>();

/** One hostile (or canary) connection and what the server did to it. */
export class Peer {
  readonly socket: Socket;
  readonly startedAt = performance.now();
  /** HTTP status of the server's answer to the request head (101 when upgraded), 0 before any. */
  status = 0;
  responseHead = "";
  /** Code of the server's close frame (1005 when it had none), if one came. */
  closeCode?: number;
  closeAt = 0;
  /** How TCP ended, seen from here: "FIN", "RST", another error code, or undefined while open. */
  end?: string;
  endAt = 0;
  /** This side destroyed the socket (the server had not ended it). */
  abandoned = false;
  dataBytes = 0;
  pongs = 0;
  pings = 0;
  readonly opened: Promise<boolean>;
  private head = Buffer.alloc(0);
  private reader: FrameReader;

  constructor(
    readonly port: number,
    private readonly options: PeerOptions = {},
  ) {
    this.socket = connect({ port, host: "127.0.0.1", noDelay: true });
    livePeers.add(this);
    this.reader = new FrameReader(
      (opcode, fin, payload) => this.frame(opcode, fin, payload),
      (n) => (this.dataBytes += n),
      () => options.onFrame !== undefined,
    );
    let resolveOpened!: (ok: boolean) => void;
    this.opened = new Promise((resolve) => (resolveOpened = resolve));
    this.socket.on("data", (chunk: Buffer) => {
      if (this.status === 101) return this.reader.push(chunk);
      this.head = Buffer.concat([this.head, chunk]);
      const at = this.head.indexOf("\r\n\r\n");
      if (at < 0) return;
      this.responseHead = this.head.subarray(0, at).toString("latin1");
      this.status = Number(/^HTTP\/1\.\d (\d{3})/.exec(this.responseHead)?.[1] ?? -1);
      const rest = this.head.subarray(at + 4);
      this.head = Buffer.alloc(0);
      resolveOpened(this.status === 101);
      if (this.status === 101 && rest.length) this.reader.push(rest);
    });
    this.socket.on("end", () => this.ended("FIN"));
    this.socket.on("error", (error: NodeJS.ErrnoException) =>
      this.ended(error.code === "ECONNRESET" || error.code === "EPIPE" ? "RST" : (error.code ?? "error")),
    );
    this.socket.on("close", () => {
      livePeers.delete(this);
      this.ended("FIN");
      resolveOpened(false);
    });
    if (options.upgrade !== false) this.socket.write(upgradeRequest(port, options.extra));
  }

  /** Write unless the socket is gone; resolves when the bytes left this process (or the socket failed). */
  write(bytes: Uint8Array | string): Promise<void> {
    if (this.socket.destroyed || this.abandoned) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** Write `bytes` in `chunk`-sized pieces, waiting for each to drain, until done or `deadline`. */
  async writeAll(bytes: Uint8Array, deadline = Infinity, chunk = 64 * 1024): Promise<number> {
    let at = 0;
    while (at < bytes.length && !this.gone && performance.now() < deadline) {
      const piece = bytes.subarray(at, at + chunk);
      if (!this.socket.write(piece)) await this.drained(deadline);
      at += piece.length;
    }
    return at;
  }

  /** Resolves when the socket drains, ends, or `deadline` passes. */
  drained(deadline = Infinity): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(deadline - performance.now(), 2 ** 31 - 1)));
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
  }

  /** The server ended the connection (or it failed). */
  get gone(): boolean {
    return this.end !== undefined || this.socket.destroyed;
  }

  /** Resolves once the server has ended the connection, or after `ms`. */
  waitEnd(ms: number): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Close from this side; a connection still open is counted as open at the end. */
  destroy(): void {
    if (!this.gone) this.abandoned = true;
    this.socket.destroy();
  }

  /** What the server did to this connection, in a few words. */
  outcome(): string {
    if (this.status > 0 && this.status !== 101) return `HTTP ${this.status}`;
    if (this.status < 0) return "garbled response";
    if (this.closeCode !== undefined) return `close ${this.closeCode}`;
    if (this.abandoned || this.end === undefined)
      return this.status === 101 ? "left open" : "no answer, left open";
    const when = this.status === 101 ? "" : " before any response";
    return this.end === "FIN" ? `FIN without close frame${when}` : `${this.end}${when}`;
  }

  /** Milliseconds from the start (or `from`) to the server's close frame or TCP end, whichever was first. */
  endedAfter(from = this.startedAt): number {
    const at = this.closeAt || (this.abandoned ? 0 : this.endAt);
    return at ? at - from : NaN;
  }

  private ended(how: string): void {
    if (this.end !== undefined) return;
    this.end = how;
    this.endAt = performance.now();
  }

  private frame(opcode: number, fin: boolean, payload: Buffer | null): void {
    if (opcode === Opcode.Ping) {
      this.pings++;
      if (this.options.autoPong !== false && !this.gone)
        this.socket.write(clientFrame(Opcode.Pong, payload!));
    } else if (opcode === Opcode.Pong) this.pongs++;
    else if (opcode === Opcode.Close) {
      if (this.closeCode === undefined) {
        this.closeCode = payload!.length >= 2 ? payload!.readUInt16BE(0) : 1005;
        this.closeAt = performance.now();
      }
    } else if (payload && this.options.onFrame) this.options.onFrame(opcode, fin, payload);
  }
}

/** Counts of each outcome among `peers`, most common first: "998× close 1007, 2× RST". */
export function tally(peers: Peer[], outcome = (p: Peer) => p.outcome()): string {
  const counts = new Map<string, number>();
  for (const p of peers) counts.set(outcome(p), (counts.get(outcome(p)) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([what, n]) => `${n}× ${what}`)
    .join(", ");
}

/** Open `count` upgraded peers, `parallel` handshakes at a time; peers that failed are included. */
export async function openPeers(
  port: number,
  count: number,
  options: PeerOptions = {},
  parallel = 64,
): Promise<Peer[]> {
  const peers: Peer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        const peer = new Peer(port, options);
        peers.push(peer);
        await Promise.race([peer.opened, new Promise((r) => setTimeout(r, 5000))]);
      }
    }),
  );
  return peers;
}
