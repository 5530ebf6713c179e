// Pub/sub fan-out (issue 7): one publisher, SUBSCRIBERS subscriber connections (default 1,000), 32-byte
// messages sent by the publisher in writes of 16; every subscriber gets every message. Measured:
// deliveries per second and server CPU per delivery, for our publish (Node and Bun) beside a `ws` loop
// over `clients` and Bun.serve's native publish; then through Redis with 2 server processes: deliveries
// per second, and the latency Redis adds (median, p99) at a steady 20 messages/s (20,000 deliveries/s).
// The deflate cells: 2 KiB JSON-like text messages to subscribers that offer permessage-deflate (as
// browsers and ws do: context takeover; or asking server_no_context_takeover) or nothing, every server with
// permessage-deflate on (ws compresses per client; ours, uWS's shared compressor and Bun.serve once).
//   taskset -c 0 npx tsx bench/fanout.ts     (BENCH_ROUNDS, BENCH_SECONDS, BENCH_SERVER_CORE, BENCH_SUBSCRIBERS,
//                                             BENCH_CELLS=plain,deflate to run one group only, or nodeflate
//                                             for the deflate group's first cell alone; BENCH_SERVERS: names;
//                                             BENCH_BASE: another build's dist/, run beside ours as
//                                             "wasmsocket publish (base)" and "wasmsocket publish on Bun (base)";
//                                             BENCH_BUN_FLAGS: flags for the Bun servers, e.g. --cpu-prof)
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { jsonText } from "../test/support/json-text.js";
import {
  BUN,
  handshake,
  headerBytes,
  maskedFrame,
  median,
  spread,
  startServer,
  stopServer,
  usage,
  type Server,
} from "./load.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "1";
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const SIZE = 32;
const BATCH = 16;
/** Messages the publisher may be ahead of the average subscriber. */
const WINDOW = Number(process.env.BENCH_WINDOW ?? 64);
const FRAME = SIZE + 2;
const CELLS = (process.env.BENCH_CELLS ?? "plain,deflate").split(",");

/** One fan-out cell: the message the publisher sends, and what the subscribers offer. */
interface Cell {
  label: string;
  /** The publisher's message, a masked client frame. */
  frame: Buffer;
  /** The payload's length. */
  size: number;
  /** The subscribers' Sec-WebSocket-Extensions line (with CRLF), or "" for none. */
  offer: string;
}

const DEFLATE_TEXT = Buffer.from(jsonText(2048, 1));
/** A masked text frame (the publisher's, for the deflate cells). */
function maskedText(payload: Buffer): Buffer {
  const framed = maskedFrame(payload);
  framed[0] = 0x81;
  return framed;
}
const PLAIN_CELL: Cell = { label: "32 B", frame: maskedFrame(new Uint8Array(SIZE)), size: SIZE, offer: "" };
const DEFLATE_CELLS: Cell[] = [
  {
    label: "2 KiB text, subscribers without deflate",
    frame: maskedText(DEFLATE_TEXT),
    size: 2048,
    offer: "",
  },
  {
    label: "2 KiB text, deflate (browser's offer: client_max_window_bits, context takeover)",
    frame: maskedText(DEFLATE_TEXT),
    size: 2048,
    offer: "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
  },
  {
    label: "2 KiB text, deflate (server_no_context_takeover asked)",
    frame: maskedText(DEFLATE_TEXT),
    size: 2048,
    offer:
      "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits\r\n",
  },
];

/** Counts whole frames in one subscriber's byte stream (compressed frames differ in length) into `totals`. */
class FrameCounter {
  private readonly totals: { frames: number; bytes: number };
  private need = 0;
  private head: number[] = [];

  constructor(totals: { frames: number; bytes: number }) {
    this.totals = totals;
  }

  push(chunk: Buffer): void {
    this.totals.bytes += chunk.length;
    for (let i = 0; i < chunk.length;) {
      if (this.need > 0) {
        const k = Math.min(this.need, chunk.length - i);
        this.need -= k;
        i += k;
        continue;
      }
      const head = this.head;
      head.push(chunk[i++]);
      if (head.length < 2) continue;
      const short = head[1] & 0x7f;
      if (head.length < (short === 126 ? 4 : short === 127 ? 10 : 2)) continue;
      this.need = short === 126 ? (head[2] << 8) | head[3] : short === 127 ? head[8] * 256 + head[9] : short;
      if (short === 127) this.need += (head[6] * 256 + head[7]) * 65536;
      this.totals.frames++;
      this.head = [];
    }
  }
}
const BUN_FLAGS = (process.env.BENCH_BUN_FLAGS ?? "").split(" ").filter((flag) => flag !== "");
const servers: { name: string; command: string[]; env?: Record<string, string> }[] = [
  { name: "wasmsocket publish", command: [process.execPath, "bench/fanout-server.mjs", "wasmsocket"] },
  { name: "ws loop over clients", command: [process.execPath, "bench/fanout-server.mjs", "ws"] },
  { name: "uWebSockets.js publish", command: [process.execPath, "bench/fanout-server.mjs", "uws"] },
  {
    name: "wasmsocket publish on Bun",
    command: [BUN, ...BUN_FLAGS, "bench/fanout-server-bun.ts", "wasmsocket"],
  },
  { name: "Bun.serve publish", command: [BUN, ...BUN_FLAGS, "bench/fanout-server-bun.ts", "bun.serve"] },
];
if (process.env.BENCH_BASE) {
  const env = { BENCH_DIST: resolve(process.env.BENCH_BASE) };
  servers.splice(1, 0, {
    name: "wasmsocket publish (base)",
    command: [process.execPath, "bench/fanout-server.mjs", "wasmsocket"],
    env,
  });
  servers.splice(-1, 0, {
    name: "wasmsocket publish on Bun (base)",
    command: [BUN, ...BUN_FLAGS, "bench/fanout-server-bun.ts", "wasmsocket"],
    env,
  });
}

interface Sample {
  delivered: number;
  cpuPerMillion: number;
  /** Share of its core this load generator used (near 1: it, not the server, was the limit). */
  generatorBusy: number;
  /** This load generator's CPU seconds per million deliveries. */
  generatorPerMillion: number;
  /** Bytes on the wire per delivery (frames, headers included). */
  wireBytes: number;
  /** Subscribers whose 101 accepted permessage-deflate. */
  deflated: number;
}

/** Open `count` subscribers on `ports` (spread round-robin) to /sub; `onBytes` sees every byte count. */
async function subscribe(
  ports: number[],
  count: number,
  onData: (socket: Socket, chunk: Buffer) => void,
  offer = "",
  heads: string[] = [],
) {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 50) {
    // Each socket read from the moment its 101 came (bytes behind the 101 included): a server still
    // publishing the last round's backlog must not lose a subscriber bytes, or a frame counter loses its place.
    const opened = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) =>
        handshake(ports[(i + k) % ports.length], "/sub", offer).then(({ socket, head, rest }) => {
          socket.on("data", (chunk: Buffer) => onData(socket, chunk));
          if (rest.length > 0) onData(socket, rest);
          return { socket, head };
        }),
      ),
    );
    for (const { socket, head } of opened) {
      heads.push(head);
      sockets.push(socket);
    }
  }
  return sockets;
}

/** Saturated fan-out through the server(s) at `ports`; the publisher talks to the first. */
async function throughput(ports: number[], pids: number[], cell: Cell = PLAIN_CELL): Promise<Sample> {
  let bytes = 0;
  // Frames of one length (no compression): counted by bytes; else parsed.
  const fixed = cell.offer === "" ? cell.size + headerBytes(cell.size) : 0;
  const counted = { frames: 0, bytes: 0 };
  const counters = new Map<Socket, FrameCounter>();
  const deliveries = () => (fixed ? bytes / fixed : counted.frames);
  const heads: string[] = [];
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => cell.frame));
  // Set once the publisher is open: deliveries before it (a server still sending the last round's backlog)
  // do not count towards its window.
  let publisher: Socket | null = null;
  let before = 0;
  let published = 0;
  function pump(): void {
    if (!publisher) return;
    while (published - (deliveries() - before) / SUBSCRIBERS < WINDOW) {
      publisher.write(batch);
      published += BATCH;
    }
  }
  const subs = await subscribe(
    ports,
    SUBSCRIBERS,
    (socket, chunk) => {
      if (fixed) bytes += chunk.length;
      else {
        let counter = counters.get(socket);
        if (!counter) counters.set(socket, (counter = new FrameCounter(counted)));
        counter.push(chunk);
      }
      pump();
    },
    cell.offer,
    heads,
  );
  await new Promise((r) => setTimeout(r, 500)); // Redis subscriptions settle
  publisher = (await handshake(ports[0], "/pub")).socket;
  before = deliveries();
  pump();
  await new Promise((r) => setTimeout(r, 500));
  const cpu = () => pids.reduce((sum, pid) => sum + usage(pid).cpu, 0);
  const startDelivered = deliveries();
  const startWire = fixed ? bytes : counted.bytes;
  const cpuBefore = cpu();
  const loadBefore = process.cpuUsage();
  const start = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - start) / 1000;
  const delivered = deliveries() - startDelivered;
  const wire = (fixed ? bytes : counted.bytes) - startWire;
  const used = cpu() - cpuBefore;
  const load = process.cpuUsage(loadBefore);
  for (const s of [publisher!, ...subs]) s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  return {
    delivered: delivered / elapsed,
    cpuPerMillion: (used / delivered) * 1e6,
    generatorBusy: (load.user + load.system) / 1e6 / elapsed,
    generatorPerMillion: (load.user + load.system) / delivered,
    wireBytes: wire / delivered,
    deflated: heads.filter((head) => /permessage-deflate/i.test(head)).length,
  };
}

/** Latency from publisher write to subscriber read at a steady `rate`, sampled on 50 subscribers. The
 * subscribers are spread round-robin, so subscriber i is on server i % ports.length. */
async function latency(ports: number[], rate: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  const pending = new Map<Socket, Buffer>();
  let sampled = 0;
  const subs = await subscribe(ports, SUBSCRIBERS, (socket, chunk) => {
    const buffered = pending.get(socket);
    if (!buffered) return;
    let data = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    const now = performance.now();
    while (data.length >= FRAME) {
      samples.push(now - data.readDoubleLE(2));
      data = data.subarray(FRAME);
    }
    pending.set(socket, data);
  });
  // Sample subscribers of the last server: with Redis, those the publisher's process does not hold.
  for (let i = ports.length - 1; i < subs.length && sampled < 50; i += ports.length, sampled++)
    pending.set(subs[i], Buffer.alloc(0));
  await new Promise((r) => setTimeout(r, 500));
  const { socket: publisher } = await handshake(ports[0], "/pub");
  const payload = Buffer.alloc(SIZE);
  const count = Math.round(rate * 5); // 5 s of messages: ~5,000 samples
  for (let i = 0; i < count; i++) {
    payload.writeDoubleLE(performance.now(), 0);
    publisher.write(maskedFrame(payload));
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const s of [publisher, ...subs]) s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)], p99: samples[Math.floor(samples.length * 0.99)] };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

/** redis-server pinned with the servers, or null when it is not installed. */
async function startRedis(): Promise<{ child: ChildProcess; url: string } | null> {
  const port = await freePort();
  const child = spawn(
    "taskset",
    ["-c", SERVER_CORE, "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", ""],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const ready = await new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout! }).on(
      "line",
      (l) => l.includes("Ready to accept") && resolve(true),
    );
    child.once("error", () => resolve(false));
    child.once("exit", () => resolve(false));
  });
  return ready ? { child, url: `redis://127.0.0.1:${port}` } : null;
}

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);
console.log(
  `Fan-out: 1 publisher → ${SUBSCRIBERS} subscribers, publisher writes ${BATCH} messages at a time, ` +
    `≤ ${WINDOW} messages ahead. Servers pinned to core ${SERVER_CORE}, all running, rounds alternating; ${ROUNDS} rounds × ${SECONDS} s, median ±half-range.\n`,
);

const wanted = servers.filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(",").includes(s.name),
);

type Results = Record<
  string,
  {
    delivered: number[];
    cpu: number[];
    busy: number[];
    generator: number[];
    wire: number[];
    deflated: number;
  }
>;

/**
 * Every server of `wanted` at once (idle while not measured) with `env`, rounds alternating between them and
 * between `cells`, so the machine's other load falls on all alike; one table per cell.
 */
async function runGroup(cells: Cell[], env: Record<string, string>): Promise<Results[]> {
  const results: Results[] = cells.map(() => ({}));
  const running: Server[] = [];
  for (const spec of wanted) {
    running.push(await startServer(spec.name, spec.command, { ...(spec.env ?? {}), ...env }, SERVER_CORE));
    for (const r of results)
      r[spec.name] = { delivered: [], cpu: [], busy: [], generator: [], wire: [], deflated: 0 };
  }
  for (let r = 0; r < ROUNDS; r++)
    for (const [c, cell] of cells.entries())
      for (const server of running) {
        const sample = await throughput([server.port], [server.child.pid!], cell);
        const entry = results[c][server.name];
        entry.delivered.push(sample.delivered);
        entry.cpu.push(sample.cpuPerMillion);
        entry.busy.push(sample.generatorBusy);
        entry.generator.push(sample.generatorPerMillion);
        entry.wire.push(sample.wireBytes);
        entry.deflated = sample.deflated;
      }
  for (const server of running) await stopServer(server);
  for (const [c, cell] of cells.entries()) {
    console.log(`\n${cell.label}:\n`);
    console.log(
      "| server | deliveries/s | server CPU s per million deliveries | load generator CPU s per million | load generator busy | wire bytes per delivery |",
    );
    console.log("| --- | --- | --- | --- | --- | --- |");
    // ⚠: the load generator above 80% of its core, so it may have been the limit.
    for (const [name, r] of Object.entries(results[c]))
      console.log(
        `| ${name} | ${fmt(median(r.delivered))} ±${spread(r.delivered)}% | ${median(r.cpu).toFixed(2)} ±${spread(r.cpu)}% | ` +
          `${median(r.generator).toFixed(2)} | ${(median(r.busy) * 100).toFixed(0)}%${median(r.busy) > 0.8 ? " ⚠" : ""} | ` +
          `${median(r.wire).toFixed(0)}${cell.offer && r.deflated < SUBSCRIBERS ? ` (deflate on ${r.deflated})` : ""} |`,
      );
  }
  return results;
}

const ratio = (results: Results, a: string, b: string, key: "delivered" | "cpu" = "delivered") =>
  results[a] && results[b] ? `${(median(results[a][key]) / median(results[b][key])).toFixed(2)}×` : "n/a";

if (CELLS.includes("plain")) {
  const [results] = await runGroup([PLAIN_CELL], {});
  console.log(
    `\nwasmsocket publish / ws loop (Node): ${ratio(results, "wasmsocket publish", "ws loop over clients")}; ` +
      `wasmsocket publish / uWebSockets.js publish: ${ratio(results, "wasmsocket publish", "uWebSockets.js publish")}; ` +
      `wasmsocket publish on Bun / Bun.serve publish: ${ratio(results, "wasmsocket publish on Bun", "Bun.serve publish")}`,
  );
}

if (CELLS.includes("nodeflate") && !CELLS.includes("deflate"))
  await runGroup(DEFLATE_CELLS.slice(0, 1), { FANOUT_DEFLATE: "1" });

if (CELLS.includes("deflate")) {
  const all = await runGroup(DEFLATE_CELLS, { FANOUT_DEFLATE: "1" });
  console.log("\nServer CPU per delivery, ratios (lower is cheaper for the first):");
  for (const [c, cell] of DEFLATE_CELLS.entries())
    console.log(
      `- ${cell.label}: wasmsocket / ws ${ratio(all[c], "wasmsocket publish", "ws loop over clients", "cpu")}, ` +
        `wasmsocket / uWS ${ratio(all[c], "wasmsocket publish", "uWebSockets.js publish", "cpu")}, ` +
        `wasmsocket on Bun / Bun.serve ${ratio(all[c], "wasmsocket publish on Bun", "Bun.serve publish", "cpu")}`,
    );
  const plain = all[0];
  for (const name of Object.keys(plain))
    console.log(
      `- ${name}: CPU per delivery with deflate (browser offer / no-context offer) vs without: ` +
        `${(median(all[1][name].cpu) / median(plain[name].cpu)).toFixed(2)}× / ${(median(all[2][name].cpu) / median(plain[name].cpu)).toFixed(2)}×`,
    );
}

if (CELLS.includes("plain") && (!process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.includes("redis"))) {
  const redis = await startRedis();
  if (!redis) console.log("\nThrough Redis: skipped (redis-server is not installed).");
  else {
    const started: Server[] = [];
    for (const name of ["redis A", "redis B"])
      started.push(
        await startServer(
          name,
          [process.execPath, "bench/fanout-server.mjs", "wasmsocket"],
          { REDIS_URL: redis.url },
          SERVER_CORE,
        ),
      );
    const ports = started.map((s) => s.port);
    const pids = [...started.map((s) => s.child.pid!), redis.child.pid!];
    const delivered: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const sample = await throughput(ports, pids);
      delivered.push(sample.delivered);
      cpu.push(sample.cpuPerMillion);
    }
    const viaRedis = await latency(ports, 20);
    for (const s of started) await stopServer(s);
    const single = await startServer(
      "local",
      [process.execPath, "bench/fanout-server.mjs", "wasmsocket"],
      {},
      SERVER_CORE,
    );
    const local = await latency([single.port], 20);
    await stopServer(single);
    redis.child.kill();
    console.log(
      `\nThrough Redis, 2 Node processes (subscribers split between them, publisher on the first; both and ` +
        `redis-server on core ${SERVER_CORE}): ${fmt(median(delivered))} deliveries/s ±${spread(delivered)}%, ` +
        `${median(cpu).toFixed(2)} CPU s per million deliveries (servers + Redis).`,
    );
    console.log(
      `Latency at 20 msgs/s × ${SUBSCRIBERS} subscribers, publisher write → subscriber read: one process p50 ${local.p50.toFixed(2)} ms, ` +
        `p99 ${local.p99.toFixed(2)} ms; through Redis p50 ${viaRedis.p50.toFixed(2)} ms, p99 ${viaRedis.p99.toFixed(2)} ms ` +
        `(added: p50 ${(viaRedis.p50 - local.p50).toFixed(2)} ms, p99 ${(viaRedis.p99 - local.p99).toFixed(2)} ms).`,
    );
  }
}
