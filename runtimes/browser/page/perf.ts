// The latency and throughput tests: echoes over any open connection to an echo server.

/** Where a test sends and how it hears echoes; `listen` returns a function that stops listening. */
export interface EchoChannel {
  send(data: string | Uint8Array): void;
  listen(onMessage: (data: string | ArrayBuffer) => void): () => void;
}

/** Round-trip times of N sequential echoes. */
export interface LatencyResult {
  count: number;
  min: number;
  median: number;
  p99: number;
  max: number;
  /** Every round trip in ms, in order. */
  samples: number[];
}

/** N messages of S bytes with K in flight, each echo compared byte for byte. */
export interface ThroughputResult {
  messages: number;
  size: number;
  inFlight: number;
  seconds: number;
  megabytesPerSecond: number;
  messagesPerSecond: number;
  verified: number;
  mismatches: number;
  /** MB/s in up to 40 equal time slices, for the chart. */
  timeline: number[];
}

/** Fails a test that hears nothing for this long. */
const STALL_MS = 10_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Run `body` (the first sends), hand each echo to `onEcho` until it settles; reject after STALL_MS of silence. */
function withStallGuard<T>(
  channel: EchoChannel,
  body: () => void,
  onEcho: (data: string | ArrayBuffer, done: (value: T) => void, fail: (error: Error) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout>;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(() => reject(new Error(`no echo for ${STALL_MS} ms`))), STALL_MS);
    };
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      stop();
      settle();
    };
    const stop = channel.listen((data) => {
      arm();
      onEcho(
        data,
        (value) => finish(() => resolve(value)),
        (error) => finish(() => reject(error)),
      );
    });
    arm();
    try {
      body();
    } catch (error) {
      finish(() => reject(error as Error));
    }
  });
}

/** Send `count` short text messages one after another and time each echo. */
export function latencyTest(channel: EchoChannel, count: number): Promise<LatencyResult> {
  const samples: number[] = [];
  let sentAt = 0;
  const sendNext = () => {
    sentAt = performance.now();
    channel.send(`latency ${samples.length}`);
  };
  return withStallGuard<LatencyResult>(channel, sendNext, (data, done, fail) => {
    const rtt = performance.now() - sentAt;
    if (data !== `latency ${samples.length}`) return fail(new Error(`echo ${samples.length} differs`));
    samples.push(rtt);
    if (samples.length < count) return sendNext();
    const sorted = [...samples].sort((a, b) => a - b);
    done({
      count,
      min: sorted[0],
      median: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1],
      samples,
    });
  });
}

/** The deterministic payload of message `index`, so an echo can be checked without keeping a copy. */
function fillPayload(bytes: Uint8Array, index: number): Uint8Array {
  let state = (index * 2654435761 + 1) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Send `messages` binary messages of `size` bytes keeping `inFlight` unanswered; verify every echo. */
export function throughputTest(
  channel: EchoChannel,
  messages: number,
  size: number,
  inFlight: number,
): Promise<ThroughputResult> {
  const expected = new Uint8Array(size);
  const times: number[] = [];
  let sent = 0;
  let received = 0;
  let mismatches = 0;
  let started = 0;
  const sendOne = () => channel.send(fillPayload(new Uint8Array(size), sent++));
  const start = () => {
    started = performance.now();
    while (sent < Math.min(messages, inFlight)) sendOne();
  };
  return withStallGuard<ThroughputResult>(channel, start, (data, done) => {
    const echo = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
    if (typeof data === "string" || !sameBytes(echo, fillPayload(expected, received))) mismatches++;
    received++;
    times.push(performance.now());
    if (sent < messages) sendOne();
    if (received < messages) return;
    const seconds = Math.max(1e-6, (times[times.length - 1] - started) / 1000);
    done({
      messages,
      size,
      inFlight,
      seconds,
      megabytesPerSecond: (messages * size) / 1e6 / seconds,
      messagesPerSecond: messages / seconds,
      verified: messages - mismatches,
      mismatches,
      timeline: timeline(times, started, size),
    });
  });
}

/** MB/s per time slice between `started` and the last echo. */
function timeline(times: number[], started: number, size: number): number[] {
  const total = times[times.length - 1] - started;
  const slices = Math.max(1, Math.min(40, times.length));
  const counts = new Array<number>(slices).fill(0);
  for (const t of times) counts[Math.min(slices - 1, Math.floor(((t - started) / (total || 1)) * slices))]++;
  const sliceSeconds = Math.max(1e-6, total / slices / 1000);
  return counts.map((n) => (n * size) / 1e6 / sliceSeconds);
}
