// The client's send path alone: a client Session (engine framing and masking, the output queue) over a
// socket that takes every write at once, for bytes and strings of several sizes. ns per send, and GB/s of
// payload. Run before and after a change to the send path (issue 17: copies on the client's send path).
//   taskset -c 1 npx tsx bench/client-send.ts   (BENCH_SEND_MS: ms per run, default 400; BENCH_ROUNDS: runs per
//   row, default 5, the median printed)
import { performance } from "node:perf_hooks";
import { Role } from "../bindings/protocol/connection.js";
import { EnginePool } from "../bindings/engine/pool.js";
import { Session, type SessionSocket } from "../bindings/protocol/session.js";

const MS = Number(process.env.BENCH_SEND_MS ?? 400);
const SIZES = [16, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];

class Sink implements SessionSocket {
  bufferedAmount = 0;
  writable = true;
  bytes = 0;
  write(bytes: Uint8Array): boolean {
    this.bytes += bytes.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
}

function clientSession(): Session {
  const pool = new EnginePool({ maxConnections: 1 });
  const noop = () => {};
  const session = new Session(
    new Sink(),
    pool,
    pool.acquire(),
    {
      role: Role.Client,
      maxPayload: 1 << 30,
      fragments: "message",
      heartbeat: null,
      highWaterMark: 1 << 30,
      maxBufferedAmount: 2 ** 52,
      closeTimeout: 1000,
      stallTimeout: 30_000,
    },
    {
      message: noop,
      fragment: noop,
      ping: noop,
      pong: noop,
      closing: noop,
      error: noop,
      drain: noop,
      end: noop,
    },
    (n) => Buffer.allocUnsafe(n),
  );
  session.start();
  return session;
}

/** ns per send of `data`, sends in batches of `batch` (one output flush per batch, as one tick's sends). */
async function measure(data: string | Uint8Array): Promise<number> {
  const session = clientSession();
  const size = typeof data === "string" ? Buffer.byteLength(data) : data.length;
  const batch = Math.max(1, Math.min(64, (256 * 1024) >> Math.log2(Math.max(size, 1))));
  const run = async (until: number) => {
    let sends = 0;
    const start = performance.now();
    while (performance.now() - start < until) {
      for (let i = 0; i < batch; i++) session.send(data, typeof data !== "string", 0);
      sends += batch;
      await Promise.resolve();
    }
    return ((performance.now() - start) * 1e6) / sends;
  };
  await run(MS / 4);
  return run(MS);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
const rows: string[] = [];
for (const size of SIZES) {
  const bytes = Buffer.alloc(size, 0x61);
  const text = "a".repeat(size);
  const byteRuns: number[] = [];
  const textRuns: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    byteRuns.push(await measure(bytes));
    textRuns.push(await measure(text));
  }
  const nsBytes = median(byteRuns);
  const nsText = median(textRuns);
  rows.push(
    `${String(size).padStart(8)} B   bytes ${nsBytes.toFixed(0).padStart(7)} ns ${(size / nsBytes).toFixed(2).padStart(6)} GB/s` +
      `   string ${nsText.toFixed(0).padStart(7)} ns ${(size / nsText).toFixed(2).padStart(6)} GB/s`,
  );
}
console.log(rows.join("\n"));
