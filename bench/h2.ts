// WebSockets over HTTP/2 (RFC 8441) against HTTP/1.1 on our server, both over TLS, in the same run: the
// latency from asking for a new WebSocket to its first echo (a stream on an HTTP/2 session already open,
// against a new TCP + TLS connection and its upgrade), the round trip of a 32 B message on an open
// WebSocket, and echo throughput on one WebSocket. The load generator (this process) speaks node:http2 and
// node:tls and frames by hand; the server (bench/h2-server.mjs) runs pinned to another core.
//   taskset -c 0 npx tsx bench/h2.ts       (BENCH_ROUNDS, BENCH_SECONDS, BENCH_SERVER_CORE (default 1))
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { throwawayCert } from "../test/support/tls-cert.js";
import {
  handshake,
  headerBytes,
  maskedFrame,
  median,
  spread,
  startServer,
  stopServer,
  usage,
} from "./load.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "1";
const CONNECTS = 200;
const ROUND_TRIPS = 2000;

/** One WebSocket as the generator drives it: write masked frames, get told of each echo's bytes. */
interface Pipe {
  write(bytes: Buffer): void;
  onData(listener: (chunk: Buffer) => void): void;
  close(): void;
}

const { key, cert } = throwawayCert();
const dir = mkdtempSync(join(tmpdir(), "wasmsocket-h2-bench-"));
writeFileSync(join(dir, "key.pem"), key);
writeFileSync(join(dir, "cert.pem"), cert);
// Our server with node:http2's default windows (64 KiB), and one with Chromium-sized ones (h2-server.mjs).
const args = [process.execPath, "bench/h2-server.mjs", join(dir, "key.pem"), join(dir, "cert.pem")];
const plain = await startServer("wasmsocket h2", args, {}, SERVER_CORE);
const wide = await startServer(
  "wasmsocket h2, 6 MiB windows",
  args,
  { H2_WINDOW: String(6 << 20) },
  SERVER_CORE,
);
/** The server the next session or connection goes to. */
let server = plain;

/** An HTTP/2 session to the server, its SETTINGS received. */
async function h2Session(): Promise<http2.ClientHttp2Session> {
  const origin = `https://127.0.0.1:${server.port}`;
  // Windows as Chromium sizes them: 6 MiB a stream, 15 MiB the connection (node:http2's default: 64 KiB).
  const session = http2.connect(origin, { ca: cert, settings: { initialWindowSize: 6 * 1024 * 1024 } });
  await new Promise((resolve, reject) => session.once("remoteSettings", resolve).once("error", reject));
  session.setLocalWindowSize(15 * 1024 * 1024);
  return session;
}

/** A WebSocket on a new stream of `session` (resolves at the server's 200). */
function h2Pipe(session: http2.ClientHttp2Session): Promise<Pipe> {
  const stream = session.request(
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "https",
      ":path": "/",
      ":authority": `127.0.0.1:${server.port}`,
      "sec-websocket-version": "13",
    },
    { endStream: false },
  );
  stream.on("error", () => {});
  return new Promise((resolve, reject) => {
    stream.once("response", (headers) => {
      if (headers[":status"] !== 200) return reject(new Error(`status ${headers[":status"]}`));
      resolve({
        write: (bytes) => stream.write(bytes),
        onData: (listener) => stream.on("data", listener),
        close: () => stream.close(http2.constants.NGHTTP2_CANCEL),
      });
    });
  });
}

/** A WebSocket on a new TCP + TLS connection (resolves at the server's 101). */
async function h1Pipe(): Promise<Pipe> {
  const { socket } = await handshake(server.port, "/", "", cert);
  return {
    write: (bytes) => socket.write(bytes),
    onData: (listener) => socket.on("data", listener),
    close: () => socket.destroy(),
  };
}

/** Resolves once `bytes` more bytes have arrived on `pipe` (counting from the call). */
function awaitBytes(pipe: Pipe, counter: { bytes: number; wake: (() => void) | null }, bytes: number) {
  return new Promise<void>((resolve) => {
    counter.bytes -= bytes;
    if (counter.bytes >= 0) return resolve();
    counter.wake = resolve;
  });
}

/** Count `pipe`'s incoming bytes into a counter `awaitBytes` waits on. */
function counted(pipe: Pipe) {
  const counter = { bytes: 0, wake: null as (() => void) | null };
  pipe.onData((chunk) => {
    counter.bytes += chunk.length;
    if (counter.bytes >= 0 && counter.wake) {
      const wake = counter.wake;
      counter.wake = null;
      wake();
    }
  });
  return counter;
}

const small = maskedFrame(Buffer.alloc(32, 1));
const smallEcho = 32 + headerBytes(32);

/** Milliseconds from asking for a new WebSocket to its first 32 B echo, `CONNECTS` times in a row. */
async function connectLatencies(open: () => Promise<Pipe>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    const start = performance.now();
    const pipe = await open();
    const counter = counted(pipe);
    pipe.write(small);
    await awaitBytes(pipe, counter, smallEcho);
    out.push(performance.now() - start);
    pipe.close();
  }
  return out;
}

/** Milliseconds of `ROUND_TRIPS` sequential 32 B echoes on one WebSocket. */
async function roundTrips(pipe: Pipe): Promise<number[]> {
  const counter = counted(pipe);
  const out: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = performance.now();
    pipe.write(small);
    await awaitBytes(pipe, counter, smallEcho);
    out.push(performance.now() - start);
  }
  return out;
}

/** Echoes per second of `size`-byte messages, `inFlight` at a time on one WebSocket, and CPU per message. */
async function throughput(pipe: Pipe, size: number, inFlight: number, pid: number) {
  const one = maskedFrame(Buffer.alloc(size, 7));
  const echo = size + headerBytes(size);
  let pending = 0;
  let messages = 0;
  let counting = false;
  pipe.onData((chunk) => {
    pending += chunk.length;
    const n = Math.floor(pending / echo);
    pending -= n * echo;
    if (counting) messages += n;
    for (let k = 0; k < n; k++) pipe.write(one);
  });
  for (let k = 0; k < inFlight; k++) pipe.write(one);
  await new Promise((resolve) => setTimeout(resolve, 300));
  counting = true;
  const cpuBefore = usage(pid).cpu;
  const loadBefore = process.cpuUsage();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const elapsed = (performance.now() - start) / 1000;
  counting = false;
  const serverCpu = usage(pid).cpu - cpuBefore;
  const load = process.cpuUsage(loadBefore);
  pipe.close();
  return {
    rate: messages / elapsed,
    serverUs: (serverCpu / messages) * 1e6,
    generatorUs: ((load.user + load.system) / 1e6 / messages) * 1e6,
  };
}

const percentile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)];
const ms = (x: number) => `${x.toFixed(3)} ms`;

/** Per row, each round's value: HTTP/2 on the 64 KiB-window server, on the 6 MiB one, and HTTP/1.1. */
type Row = { values: [number[], number[], number[]]; unit: (x: number) => string };
const rows = new Map<string, Row>();
function add(name: string, unit: Row["unit"], values: number[]): void {
  if (!rows.has(name)) rows.set(name, { values: [[], [], []], unit });
  values.forEach((value, i) => rows.get(name)!.values[i].push(value));
}

/** Add the p50 and p99 rows of `name` from each target's samples (ms). */
function percentiles(name: string, samples: number[][]): void {
  for (const q of [0.5, 0.99])
    add(
      `${name}, p${q * 100}`,
      ms,
      samples.map((xs) => percentile(xs, q)),
    );
}

/** `measure` on a stream of each HTTP/2 server (on `sessions`), then on a new HTTP/1.1 connection. */
async function each<T>(
  sessions: http2.ClientHttp2Session[],
  measure: (open: () => Promise<Pipe>, pid: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (const [i, target] of [plain, wide].entries()) {
    server = target;
    out.push(await measure(() => h2Pipe(sessions[i]), target.child.pid!));
  }
  server = plain;
  out.push(await measure(h1Pipe, plain.child.pid!));
  return out;
}

const cells: [string, number, number][] = [
  ["1 KiB × 32 in flight", 1024, 32],
  ["64 KiB × 4 in flight", 65536, 4],
];
for (let round = 0; round < ROUNDS; round++) {
  const sessions: http2.ClientHttp2Session[] = [];
  for (const target of [plain, wide]) {
    server = target;
    sessions.push(await h2Session());
  }
  percentiles("new WebSocket → first echo", await each(sessions, (open) => connectLatencies(open)));
  percentiles("32 B round trip", await each(sessions, async (open) => roundTrips(await open())));
  for (const [name, size, inFlight] of cells) {
    const results = await each(sessions, async (open, pid) => throughput(await open(), size, inFlight, pid));
    const rate = (x: number) =>
      `${Math.round(x).toLocaleString("en")}/s (${((x * size) / 1e6).toFixed(0)} MB/s)`;
    const us = (x: number) => `${x.toFixed(1)} µs`;
    add(
      `echo ${name}`,
      rate,
      results.map((r) => r.rate),
    );
    add(
      `server CPU per echo, ${name}`,
      us,
      results.map((r) => r.serverUs),
    );
    add(
      `generator CPU per echo, ${name}`,
      us,
      results.map((r) => r.generatorUs),
    );
  }
  for (const session of sessions) session.close();
}
await stopServer(plain);
await stopServer(wide);
rmSync(dir, { recursive: true, force: true });

console.log(
  `WebSockets over HTTP/2 (a stream per WebSocket on a session already open; the generator's windows sized as ` +
    `Chromium's) vs HTTP/1.1 (a TLS connection each); our server on core ${SERVER_CORE} with node:http2's ` +
    `default 64 KiB windows, and with 6 MiB ones; ${ROUNDS} rounds × (${CONNECTS} connects, ${ROUND_TRIPS} ` +
    `round trips, ${SECONDS} s per echo cell), medians ±half the range\n`,
);
console.log(
  "| | HTTP/2, 64 KiB windows | HTTP/2, 6 MiB windows | HTTP/1.1 | HTTP/2 / HTTP/1.1 (64 KiB, 6 MiB) |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, row] of rows) {
  const m = row.values.map(median);
  const cells = m.map((x, i) => `${row.unit(x)} ±${spread(row.values[i])}%`);
  console.log(
    `| ${name} | ${cells.join(" | ")} | ${(m[0] / m[2]).toFixed(2)}×, ${(m[1] / m[2]).toFixed(2)}× |`,
  );
}
