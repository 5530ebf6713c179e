// permessage-deflate beside ws (perMessageDeflate on, same run): echo messages/s and bytes on the wire for
// JSON-like messages of 1 KiB and 64 KiB (cells 1, 2; 1 MiB and 16 MiB, inflated and compressed on zlib's
// thread pool, are cells 3 and 4: BENCH_CELLS=3,4), and the RSS each server adds per idle connection with
// deflate negotiated. Each server runs in its own process (plain node, ours from dist/: `npm run build`
// first), pinned to BENCH_SERVER_CORE; the raw-TCP load generator is this process.
//   taskset -c 1 npx tsx bench/deflate.ts          (BENCH_ROUNDS, BENCH_SECONDS, BENCH_IDLE, BENCH_IDLE_ROWS=0;
//   BENCH_BASE: the dist/ directory of another build, run beside ours as "wasmsocket (base)")
// The generator offers client_no_context_takeover, so its frames are compressed once up front and cost
// it nothing while measuring; servers inflate each message alone and compress their echoes with context
// takeover (both libraries' default). Replies are counted by their frame headers, never inflated.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Socket } from "node:net";
import * as zlib from "node:zlib";
import { jsonText } from "../test/support/json-text.js";
import { handshake, median, startServer, stopServer, usage, type Server } from "./load.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const IDLE = Number(process.env.BENCH_IDLE ?? 1000);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "0";
const OFFER = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
// The second wasmsocket row: the same server at this zlib level (default 6, ws's level: equal work).
const ALT_LEVEL = Number(process.env.BENCH_ALT_LEVEL ?? 6);
const ALT = `wasmsocket level ${ALT_LEVEL}`;
const CELLS = process.env.BENCH_CELLS?.split(",") ?? ["1", "2"];
const IDLE_ROWS = process.env.BENCH_IDLE_ROWS !== "0";
const BASE = process.env.BENCH_BASE ? resolve(process.env.BENCH_BASE) : undefined;
const BASE_NAME = "wasmsocket (base)";

/**
 * bench/echo-server.mjs with `perMessageDeflate: options` (default `true`: each library's defaults) and
 * `maxPayload`; "wasmsocket (base)" is ours from BENCH_BASE.
 */
function startDeflateServer(
  impl: string,
  options: object | boolean = true,
  maxPayload = 1 << 20,
): Promise<Server> {
  const base = impl === BASE_NAME;
  const args = [
    "bench/echo-server.mjs",
    base ? "wasmsocket" : impl,
    JSON.stringify({ perMessageDeflate: options, maxPayload }),
  ];
  const env: Record<string, string> = base ? { BENCH_DIST: BASE! } : {};
  return startServer(impl, [process.execPath, ...args], env, SERVER_CORE);
}

function status(pid: number, field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0) * 1024;
}

function cpuSeconds(pid: number): number {
  return usage(pid).cpu;
}

/** A masked client frame with RSV1 carrying `message` deflated alone (tail removed). */
function compressedFrame(message: string): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.from(message), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const payload = deflated.subarray(0, deflated.length - 4);
  const n = payload.length;
  const header =
    n < 126
      ? Buffer.from([0xc1, 0x80 | n])
      : n < 65536
        ? Buffer.from([0xc1, 0xfe, n >> 8, n & 0xff])
        : Buffer.from([0xc1, 0xff, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  // A zero masking key: the frame is masked, and the bytes stay as computed.
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

async function open(port: number): Promise<{ socket: Socket; rest: Buffer; extensions: string }> {
  const { socket, head, rest } = await handshake(port, "/", `Sec-WebSocket-Extensions: ${OFFER}\r\n`);
  const extensions = /sec-websocket-extensions: *(.*)/i.exec(head)?.[1] ?? "";
  return { socket, rest, extensions };
}

/** Counts complete server frames in a byte stream (headers only; payloads skipped). */
class FrameCounter {
  private need = 0;
  private header: number[] = [];
  frames = 0;
  bytes = 0;
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.need > 0) {
        const n = Math.min(this.need, chunk.length - at);
        this.need -= n;
        at += n;
        if (this.need === 0) this.frames++;
        continue;
      }
      this.header.push(chunk[at++]);
      const h = this.header;
      if (h.length < 2) continue;
      const len7 = h[1] & 0x7f;
      const size = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      if (h.length < size) continue;
      const length =
        len7 === 126
          ? (h[2] << 8) | h[3]
          : len7 === 127
            ? h[6] * 2 ** 24 + ((h[7] << 16) | (h[8] << 8) | h[9])
            : len7;
      this.header = [];
      if (length === 0) this.frames++;
      else this.need = length;
    }
  }
}

interface Cell {
  size: number;
  connections: number;
  inFlight: number;
  /** Distinct messages sent (each compressed up front). */
  messages: number;
}

interface Sample {
  messagesPerSecond: number;
  wireOutPerMessage: number;
  wireInPerMessage: number;
  serverCpu: number;
}

async function echoCell(server: Server, cell: Cell, frames: Buffer[]): Promise<Sample> {
  const conns = await Promise.all(Array.from({ length: cell.connections }, () => open(server.port)));
  let sent = 0;
  let sentBytes = 0;
  let running = true;
  const counters = conns.map(({ socket, rest }, c) => {
    const counter = new FrameCounter();
    let next = c;
    const send = () => {
      const frame = frames[next++ % frames.length];
      sent++;
      sentBytes += frame.length;
      socket.write(frame);
    };
    socket.on("data", (chunk: Buffer) => {
      const before = counter.frames;
      counter.push(chunk);
      if (running) for (let i = before; i < counter.frames; i++) send();
    });
    if (rest.length) counter.push(rest);
    for (let i = 0; i < cell.inFlight; i++) send();
    return counter;
  });
  // Warm up, then measure.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const startFrames = counters.reduce((s, c) => s + c.frames, 0);
  const startBytes = counters.reduce((s, c) => s + c.bytes, 0);
  const startSent = sent;
  const startSentBytes = sentBytes;
  const cpu0 = cpuSeconds(server.child.pid!);
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const frames1 = counters.reduce((s, c) => s + c.frames, 0) - startFrames;
  const bytes1 = counters.reduce((s, c) => s + c.bytes, 0) - startBytes;
  const cpu = cpuSeconds(server.child.pid!) - cpu0;
  running = false;
  for (const { socket } of conns) socket.destroy();
  return {
    messagesPerSecond: frames1 / elapsed,
    wireOutPerMessage: bytes1 / frames1,
    wireInPerMessage: (sentBytes - startSentBytes) / (sent - startSent),
    serverCpu: cpu / elapsed,
  };
}

/** RSS the server adds per connection: IDLE connections, one compressed echo each, then idle. */
async function idleCell(
  impl: string,
  options?: object | boolean,
): Promise<{ perConnection: number; negotiated: string }> {
  const server = await startDeflateServer(impl, options);
  const frame = compressedFrame(jsonText(2048, 1));
  // Without deflate the same message goes uncompressed (RSV1 cleared, payload as text).
  const text = Buffer.from(jsonText(2048, 1));
  const plain = Buffer.concat([
    Buffer.from([0x81, 0xfe, text.length >> 8, text.length & 0xff]),
    Buffer.alloc(4),
    text,
  ]);
  const warm = await open(server.port);
  warm.socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = status(server.child.pid!, "VmRSS");
  const conns = [];
  let negotiated = "";
  for (let i = 0; i < IDLE; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, IDLE - i) }, () => open(server.port)));
    await Promise.all(
      batch.map(
        ({ socket, extensions }) =>
          new Promise<void>((resolve) => {
            const counter = new FrameCounter();
            socket.on("data", (chunk: Buffer) => {
              counter.push(chunk);
              if (counter.frames > 0) resolve();
            });
            socket.write(extensions ? frame : plain);
          }),
      ),
    );
    negotiated = batch[0].extensions;
    conns.push(...batch);
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = status(server.child.pid!, "VmRSS");
  for (const { socket } of conns) socket.destroy();
  await stopServer(server);
  return { perConnection: (after - before) / IDLE, negotiated };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function main(): Promise<void> {
  const cells: Cell[] = [
    { size: 1024, connections: 32, inFlight: 16, messages: 64 },
    { size: 64 * 1024, connections: 8, inFlight: 2, messages: 64 },
    { size: 1 << 20, connections: 2, inFlight: 1, messages: 8 },
    { size: 16 << 20, connections: 2, inFlight: 1, messages: 2 },
  ];
  const results: Record<string, unknown> = {};
  for (const cell of cells.filter((_, i) => CELLS.includes(String(i + 1)))) {
    const frames = Array.from({ length: cell.messages }, (_, i) =>
      compressedFrame(jsonText(cell.size, i * 13)),
    );
    const samples: Record<string, Sample[]> = { wasmsocket: [], ws: [], [ALT]: [], [BASE_NAME]: [] };
    const order = ["wasmsocket", ...(BASE ? [BASE_NAME] : []), "ws", ALT];
    const maxPayload = Math.max(1 << 20, 2 * cell.size);
    for (let round = 0; round < ROUNDS; round++)
      for (const impl of round % 2 ? [...order].reverse() : order) {
        const server =
          impl === ALT
            ? await startDeflateServer("wasmsocket", { level: ALT_LEVEL }, maxPayload)
            : await startDeflateServer(impl, true, maxPayload);
        samples[impl].push(await echoCell(server, cell, frames));
        await stopServer(server);
      }
    const pick = (impl: string, key: keyof Sample) => median(samples[impl].map((s) => s[key]));
    const ours = pick("wasmsocket", "messagesPerSecond");
    const theirs = pick("ws", "messagesPerSecond");
    const label = `${cell.size / 1024} KiB × ${cell.connections} conns × ${cell.inFlight} in flight`;
    if (BASE) {
      const base = pick(BASE_NAME, "messagesPerSecond");
      const cpuPer = (impl: string) =>
        median(samples[impl].map((s) => (s.serverCpu / s.messagesPerSecond) * 1000)).toFixed(3);
      console.log(
        `${label}: wasmsocket ${fmt(ours)} msg/s, base ${fmt(base)} msg/s → ${(ours / base).toFixed(2)}×; ` +
          `server CPU ms per echo: wasmsocket ${cpuPer("wasmsocket")}, base ${cpuPer(BASE_NAME)}, ` +
          `ws ${cpuPer("ws")}`,
      );
    }
    console.log(
      `${label}: wasmsocket ${fmt(ours)} msg/s (server CPU ${pick("wasmsocket", "serverCpu").toFixed(2)}), ` +
        `ws ${fmt(theirs)} msg/s (server CPU ${pick("ws", "serverCpu").toFixed(2)}) → ${(ours / theirs).toFixed(2)}×; ` +
        `wire per echo: client→server ${fmt(pick("wasmsocket", "wireInPerMessage"))} B, server→client ` +
        `wasmsocket ${fmt(pick("wasmsocket", "wireOutPerMessage"))} B, ws ${fmt(pick("ws", "wireOutPerMessage"))} B ` +
        `(of ${fmt(cell.size)} B)`,
    );
    // On a shared machine a process with more runnable threads (ws's zlib pool) gets more of a contended
    // core, so the work per CPU-second is printed too.
    const perCpu = (impl: string) => median(samples[impl].map((s) => s.messagesPerSecond / s.serverCpu));
    console.log(
      `  per server CPU-second: wasmsocket ${fmt(perCpu("wasmsocket"))}, ws ${fmt(perCpu("ws"))} → ` +
        `${(perCpu("wasmsocket") / perCpu("ws")).toFixed(2)}×`,
    );
    const fast = ALT;
    console.log(
      `  ${ALT}: ${fmt(pick(fast, "messagesPerSecond"))} msg/s → ` +
        `${(pick(fast, "messagesPerSecond") / theirs).toFixed(2)}× ws, ${fmt(perCpu(fast))} per CPU-second → ` +
        `${(perCpu(fast) / perCpu("ws")).toFixed(2)}×, ${fmt(pick(fast, "wireOutPerMessage"))} B per echo`,
    );
    results[`${cell.size}`] = {
      ours,
      ws: theirs,
      ratio: ours / theirs,
      perCpuRatio: perCpu("wasmsocket") / perCpu("ws"),
    };
  }
  const idle: Array<[string, string, object | boolean | undefined]> = [
    ["wasmsocket", "deflate off (baseline)", false],
    ["ws", "deflate off (baseline)", false],
    ["wasmsocket", "defaults (context takeover)", undefined],
    ["ws", "defaults (context takeover)", undefined],
    ["wasmsocket", "server_no_context_takeover", { serverNoContextTakeover: true }],
    ["ws", "server_no_context_takeover", { serverNoContextTakeover: true }],
  ];
  const perConnection: Record<string, number> = {};
  for (const [impl, label, options] of IDLE_ROWS ? idle : []) {
    const runs = [];
    for (let round = 0; round < Math.max(1, ROUNDS - 1); round++) runs.push(await idleCell(impl, options));
    const bytes = median(runs.map((r) => r.perConnection));
    perConnection[`${impl} ${label}`] = bytes;
    console.log(
      `idle RSS, ${IDLE} connections, ${impl}, ${label}: ${fmt(bytes)} B per connection (negotiated: ${runs[0].negotiated})`,
    );
  }
  for (const label of IDLE_ROWS ? ["defaults (context takeover)", "server_no_context_takeover"] : []) {
    const ours = perConnection[`wasmsocket ${label}`];
    const theirs = perConnection[`ws ${label}`];
    const base = (impl: string) => perConnection[`${impl} deflate off (baseline)`];
    console.log(
      `idle RSS ratio (${label}): ${(ours / theirs).toFixed(2)}× ws; added by deflate: wasmsocket ` +
        `${fmt(ours - base("wasmsocket"))} B, ws ${fmt(theirs - base("ws"))} B per connection`,
    );
  }
  console.log(JSON.stringify({ echo: results, idle: perConnection }));
}

await main();
