// Buffers larger than the engine's 1 KiB receive area (a client's buffer_size, a server's rx_buffer_size):
// every byte the C host reads reaches the engine in pieces that fit the area. Regression tests for an
// out-of-bounds write: the C client copied the bytes behind a 101 response into the receive area whole
// (ASan: WRITE of size 16255 in open_connection), and the server did the same with the frames behind a
// request.
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { frame, parseFrame } from "../../support/raw-client.js";
import {
  buildHost,
  runClient,
  startServer,
  takeSanitizerReports,
  targets,
  type Server,
  type Target,
} from "./host.js";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const acceptFor = (key: string) =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");

/**
 * A one-connection server that answers the upgrade with `head` (a 101 unless given) followed by `after`,
 * in ONE write, then echoes nothing; resolves `reply` with the close code the client answers with.
 */
async function oneWriteServer(
  after: Buffer,
  head?: (accept: string) => string,
): Promise<{ port: number; reply: Promise<number> }> {
  let resolveReply!: (code: number) => void;
  const reply = new Promise<number>((resolve) => (resolveReply = resolve));
  const server = createServer((socket) => {
    let data = Buffer.alloc(0);
    let upgraded = false;
    socket.on("error", () => {});
    socket.on("close", () => {
      server.close();
      resolveReply(-1);
    });
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (!upgraded) {
        const end = data.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(data.subarray(0, end).toString())![1];
        const response =
          head?.(acceptFor(key)) ??
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
        socket.write(Buffer.concat([Buffer.from(response), after]));
        upgraded = true;
        data = data.subarray(end + 4);
      }
      for (let parsed = parseFrame(data); parsed; parsed = parseFrame(data)) {
        data = data.subarray(parsed.size);
        if (parsed.frame.opcode !== 8) continue;
        resolveReply(parsed.frame.payload.readUInt16BE(0));
        socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, reply };
}

/** Payload bytes of the client's DATA events for `opcode` (continuations included), from its stdout. */
function dataBytes(stdout: string, opcode: number): number {
  let total = 0;
  let inMessage = false;
  for (const m of stdout.matchAll(/^EVENT 0 DATA op=(\d+) len=(\d+) .* fin=(\d)/gm)) {
    const op = Number(m[1]);
    if (op === opcode) inMessage = true;
    else if (op !== 0) continue;
    if (inMessage) total += Number(m[2]);
    if (m[3] === "1") inMessage = false;
  }
  return total;
}

/** Send `bytes` on a fresh TCP connection and collect everything until the server ends it (or 5 s). */
async function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = connect(port, "127.0.0.1");
  let data = Buffer.alloc(0);
  socket.on("data", (d) => (data = Buffer.concat([data, d])));
  socket.on("error", () => {});
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await Promise.race([new Promise<void>((resolve) => socket.once("connect", () => resolve())), ended]);
  socket.write(bytes);
  await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))]);
  socket.destroy();
  return data;
}

function request(key: string, extra = ""): string {
  return (
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

for (const t of targets)
  describe(`C host buffers larger than the engine's receive area [${t.name}]`, () => suite(t));

function suite(t: Target): void {
  let server: Server;

  beforeAll(() => buildHost(t), 180_000);

  beforeAll(async () => {
    server = await startServer(t, ["--rx-buffer", "16384", "--max-message", String(1 << 20)]);
  }, 30_000);

  afterEach(() => expect(takeSanitizerReports()).toEqual([]));

  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
    expect(takeSanitizerReports()).toEqual([]);
  });

  it("the C client (buffer_size 16384) takes a 20000-byte frame and a close sent in the 101's write", async () => {
    const payload = randomBytes(20000);
    const after = Buffer.concat([
      frame(2, payload, { mask: false }),
      frame(8, Buffer.from([0x03, 0xe8, 0x6f, 0x6b]), { mask: false }),
    ]);
    const peer = await oneWriteServer(after);
    const run = await runClient(t, [
      "--uri",
      `ws://127.0.0.1:${peer.port}/`,
      "--buffer-size",
      "16384",
      "--timeout",
      "3000",
    ]);
    expect(await peer.reply).toBe(1000);
    expect(dataBytes(run.stdout, 2)).toBe(20000);
    expect(run.stdout).toContain("EVENT 0 CLOSED error_type=0 close=1000 ");
  });

  it("the C client fails a 101 head larger than the receive area as a handshake error, at once", async () => {
    const padding = `X-Padding: ${"p".repeat(2000)}\r\n`;
    const peer = await oneWriteServer(
      Buffer.alloc(0),
      (accept) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `${padding}Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const started = Date.now();
    const run = await runClient(t, [
      "--uri",
      `ws://127.0.0.1:${peer.port}/`,
      "--buffer-size",
      "16384",
      "--timeout",
      "4000",
    ]);
    expect(run.stdout).toMatch(/EVENT 0 ERROR error_type=2 /);
    expect(run.stdout).not.toContain("EVENT 0 CONNECTED");
    expect(Date.now() - started).toBeLessThan(3000); // refused, not timed out
  });

  for (const fragment of [0, 1300])
    it(`the C client (buffer_size 16384) gets 64 KiB messages echoed by the C server (rx_buffer_size 16384), fragment ${fragment}`, async () => {
      const run = await runClient(t, [
        "--uri",
        `ws://127.0.0.1:${server.port}/`,
        "--buffer-size",
        "16384",
        "--long",
        "65536",
        "--fragment",
        String(fragment),
        "--timeout",
        "5000",
      ]);
      expect(run.stdout).toContain("RESULT 0 connects=1 echoes=3 pong=1 closed=1");
      expect(run.status).toBe(0);
    });

  it("the C server (rx_buffer_size 16384) echoes frames sent in the request's write", async () => {
    const key = randomBytes(16).toString("base64");
    const text = "t".repeat(5000);
    const reply = await exchange(
      server.port,
      Buffer.concat([
        Buffer.from(request(key)),
        frame(1, text),
        frame(2, Buffer.alloc(3000, 7)),
        frame(8, Buffer.from([0x03, 0xe8])),
      ]),
    );
    const end = reply.indexOf("\r\n\r\n");
    expect(reply.subarray(0, end).toString()).toContain(`Sec-WebSocket-Accept: ${acceptFor(key)}`);
    let rest = reply.subarray(end + 4);
    const frames = [];
    for (let parsed = parseFrame(rest); parsed; parsed = parseFrame(rest)) {
      frames.push(parsed.frame);
      rest = rest.subarray(parsed.size);
    }
    expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([
      [1, 5000],
      [2, 3000],
      [8, 2],
    ]);
    expect(frames[0].payload.toString()).toBe(text);
  });

  it("the C server refuses a request head larger than the receive area with 431", async () => {
    const key = randomBytes(16).toString("base64");
    const reply = await exchange(
      server.port,
      Buffer.from(request(key, `X-Padding: ${"p".repeat(2000)}\r\n`)),
    );
    expect(reply.toString()).toMatch(/^HTTP\/1\.1 431 /);
  });
}
