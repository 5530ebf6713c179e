// A raw TCP WebSocket client for host tests: the test decides every byte sent and reads exact frames.
// Only node:net and node:crypto, so it runs under Node and under Bun. `over` reads and writes any Duplex
// the same way (an HTTP/2 stream carrying a WebSocket: test/support/h2-peer.ts).
import { once } from "node:events";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import { createHash, randomBytes } from "node:crypto";

/** Resolve after `ms`, or reject with `what` when `promise` takes longer. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** A frame read from the wire. */
export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Bytes of one frame; masked with a random key unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv?: number; mask?: boolean; length?: number } = {},
): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const length = options.length ?? data.length;
  const header: number[] = [(fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    header.push(maskBit | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    header.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(header), data]);
  const key = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(header), key, body]);
}

/** A close frame's payload: code + reason. */
export function closePayload(code: number, reason = ""): Buffer {
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2);
  return body;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A TCP client speaking WebSocket byte by byte: the test decides every byte sent. */
export class RawClient<S extends Duplex = net.Socket> {
  readonly socket: S;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;

  private constructor(socket: S) {
    this.socket = socket;
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Read and write `stream` (already open: no handshake). */
  static over<D extends Duplex>(stream: D): RawClient<D> {
    return new RawClient(stream);
  }

  /** Connect without a handshake. */
  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, "127.0.0.1");
    await once(socket, "connect");
    return new RawClient(socket);
  }

  /** Connect and complete the opening handshake (asserting the accept value). */
  static async open(port: number, path = "/", extra = ""): Promise<RawClient> {
    const client = await RawClient.connect(port);
    const key = randomBytes(16).toString("base64");
    client.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    const head = await client.readHead();
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    if (!head.startsWith("HTTP/1.1 101") || !head.includes(`Sec-WebSocket-Accept: ${accept}`))
      throw new Error(`handshake refused: ${head}`);
    return client;
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async until(ready: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await within(new Promise<void>((resolve) => this.waiters.push(resolve)), left, what).catch(() => {});
    }
  }

  /** The HTTP response head (through CRLFCRLF). */
  async readHead(ms = 5000): Promise<string> {
    await this.until(() => this.buffer.includes("\r\n\r\n"), ms, "response head");
    const end = this.buffer.indexOf("\r\n\r\n") + 4;
    const head = this.buffer.subarray(0, end).toString("latin1");
    this.buffer = this.buffer.subarray(end);
    return head;
  }

  /** Everything until the server closes the connection. */
  async readAll(ms = 5000): Promise<Buffer> {
    await this.until(() => this.ended, ms, "end of connection").catch(() => {});
    const all = this.buffer;
    this.buffer = Buffer.alloc(0);
    return all;
  }

  /** The next frame the server sends. */
  async readFrame(ms = 5000): Promise<RawFrame> {
    let parsed: { frame: RawFrame; size: number } | null = null;
    await this.until(() => (parsed = parseFrame(this.buffer)) !== null, ms, "a frame");
    const { frame, size } = parsed!;
    this.buffer = this.buffer.subarray(size);
    return frame;
  }

  /** Resolve when the server has closed TCP (true), false if not within `ms`. */
  async closed(ms = 5000): Promise<boolean> {
    return this.until(() => this.ended, ms, "TCP close").then(
      () => true,
      () => false,
    );
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Parse one unmasked-or-masked frame from the start of `bytes`; null if incomplete. */
export function parseFrame(bytes: Buffer): { frame: RawFrame; size: number } | null {
  if (bytes.length < 2) return null;
  const masked = (bytes[1] & 0x80) !== 0;
  let length = bytes[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = bytes.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    length = Number(bytes.readBigUInt64BE(2));
    at = 10;
  }
  const keyAt = at;
  if (masked) at += 4;
  if (bytes.length < at + length) return null;
  const payload = Buffer.from(bytes.subarray(at, at + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= bytes[keyAt + (i & 3)];
  return {
    frame: {
      fin: (bytes[0] & 0x80) !== 0,
      rsv: (bytes[0] >> 4) & 7,
      opcode: bytes[0] & 0x0f,
      masked,
      payload,
    },
    size: at + length,
  };
}

/** An upgrade request for `path` with the RFC 6455 sample key; `extra`: more header lines, each ending in CRLF. */
export function upgradeRequest(port: number, path = "/", extra = ""): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** The HTTP status a server answers `request` with. */
export async function statusOf(port: number, request: string): Promise<number> {
  const raw = await RawClient.connect(port);
  raw.write(request);
  const head = await raw.readHead();
  raw.destroy();
  return Number(head.split(" ")[1]);
}

/** A raw server's 101 answer to the upgrade request `head` (accept computed from its key). */
export function switchingProtocols(head: Uint8Array | string): string {
  const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(String(head))![1];
  const accept = createHash("sha1")
    .update(key + GUID)
    .digest("base64");
  return (
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
  );
}
