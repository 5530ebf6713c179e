// Runs hostile cases (test/support/hostile-peer.ts) against a host's server and client over real sockets
// and judges what the host did against the reference model (test/support/reference-model.ts): the events
// it delivered, the frames it sent back (pongs, its close frame), and how the connection ended. Used by
// test/runtimes/shared/hostile-*.test.ts under vitest (Node) and bun test (Bun), and by `npm run fuzz`.
import * as fs from "node:fs";
import * as net from "node:net";
import { parseFrame, type RawFrame } from "./raw-client.js";
import { readFrames, type ModelConfig, type ModelEvent, type ModelResult } from "./reference-model.js";
import {
  acceptFor,
  allServerConfigs,
  caseSeed,
  clientCase,
  configKey,
  randomConfig,
  requestVerdict,
  responseVerdict,
  Rng,
  serverAgreement,
  serverCase,
  splitAt,
  type HostConfig,
  type HostileCase,
} from "./hostile-peer.js";
import { EnginePool } from "../../bindings/engine/pool.js";
import type * as Host from "../../runtimes/bun/index.js";

/** The pongs sent, one for each ping in order (compared as lists: an empty payload is not "no pong"). */
function samePongs(pings: string[], pongs: string[]): boolean {
  return pings.length === pongs.length && pings.every((ping, i) => ping === pongs[i]);
}

type HostApi = typeof Host;

/** Ms one connection may take from its first byte to its close event. */
export const CASE_DEADLINE = 5000;
/** Cases run at once. */
const CONCURRENCY = 8;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What the side under test did on one connection. */
interface Observed {
  opened: boolean;
  /** Completed deliveries as "kind:hex", in order. */
  events: string[];
  /** Stream mode: the message being delivered in chunks (kind, bytes so far). */
  streaming: { kind: string; parts: Buffer[] } | null;
  /** Close codes of protocol errors, -1 for any other error (with its message in `errorText`). */
  errors: number[];
  errorText: string[];
  close: { code: number; reason: Buffer; wasClean?: boolean } | null;
  /** Rule breaks of the event order (a message before open, anything after close). */
  order: string[];
  wake: () => void;
}

function observed(): Observed {
  return {
    opened: false,
    events: [],
    streaming: null,
    errors: [],
    errorText: [],
    close: null,
    order: [],
    wake: () => {},
  };
}

function deliver(o: Observed, kind: string, data: Buffer): void {
  if (o.close) o.order.push(`${kind} after close`);
  o.events.push(`${kind}:${data.toString("hex")}`);
  o.wake();
}

function chunk(o: Observed, kind: string, data: Buffer, first: boolean, last: boolean): void {
  if (first) {
    if (o.streaming) o.order.push("first chunk inside a message");
    o.streaming = { kind, parts: [] };
  } else if (!o.streaming || o.streaming.kind !== kind) o.order.push("chunk without a first one");
  o.streaming?.parts.push(data);
  if (!last) return;
  deliver(o, kind, Buffer.concat(o.streaming?.parts ?? [data]));
  o.streaming = null;
}

function fail(o: Observed, code: number, text: string): void {
  if (o.close) o.order.push("error after close");
  o.errors.push(code);
  o.errorText.push(text);
}

function closeCodeOfError(error: unknown): number {
  const code = (error as { closeCode?: unknown } | undefined)?.closeCode;
  return typeof code === "number" ? code : -1;
}

/** Wait until `ready()` or the deadline; false on timeout. */
async function until(o: Observed, ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(left, 50));
      o.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  return true;
}

/** Frames in `bytes` (the host's output after its handshake), and trailing bytes that are no frame. */
export function framesOf(bytes: Buffer): { frames: RawFrame[]; rest: number } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (let parsed; (parsed = parseFrame(bytes.subarray(at))) !== null; at += parsed.size)
    frames.push(parsed.frame);
  return { frames, rest: bytes.length - at };
}

export const modelEvent = (e: ModelEvent) => `${e.kind}:${e.data.toString("hex")}`;

/**
 * Problems with what the host did, judged by the model: `sent` is what the host wrote after the handshake,
 * `masked` whether its frames must be masked (a client's).
 */
function judge(model: ModelResult, o: Observed, sent: Buffer, masked: boolean): string[] {
  const problems = [...o.order];
  const expected = model.events.map(modelEvent);
  if (JSON.stringify(o.events) !== JSON.stringify(expected))
    problems.push(`events ${short(o.events)} != model ${short(expected)}`);
  if (o.streaming) {
    const got = Buffer.concat(o.streaming.parts);
    const want = model.partial?.data ?? Buffer.alloc(0);
    if (got.length > want.length || !want.subarray(0, got.length).equals(got))
      problems.push(`streamed ${got.length} bytes of an unfinished message not a prefix of the model's`);
  }
  if (!o.close) problems.push("no close event");
  const { frames, rest } = framesOf(sent);
  if (rest > 0) problems.push(`${rest} bytes sent that are no whole frame`);
  for (const f of frames)
    if (!f.fin || f.rsv !== 0 || f.masked !== masked || ![8, 10].includes(f.opcode))
      problems.push(`unexpected frame sent: opcode ${f.opcode} fin ${f.fin} rsv ${f.rsv} masked ${f.masked}`);
  const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
  const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
  const closes = frames.filter((f) => f.opcode === 8);
  const outcome = model.outcome;
  // After a close frame the host reads nothing, so it answers every ping before; when the input just
  // stopped, the pongs of the last pings may still be on their way when the test hangs up.
  const allPongs = outcome.kind !== "open";
  if (!samePongs(allPongs ? pings : pings.slice(0, pongs.length), pongs))
    problems.push(`pongs ${short(pongs)} != pings ${short(pings)}`);
  if (closes.length > 1) problems.push(`${closes.length} close frames sent`);
  const closeSent = closes[0]?.payload;
  if (outcome.kind === "close") {
    if (o.errors.length > 0) problems.push(`errors ${o.errorText.join("; ")} on a clean close`);
    if (o.close && o.close.code !== outcome.code)
      problems.push(`close code ${o.close.code} != ${outcome.code}`);
    if (o.close && !o.close.reason.equals(outcome.reason))
      problems.push(`close reason ${o.close.reason.toString("hex")} != ${outcome.reason.toString("hex")}`);
    if (!closeSent || !closeSent.equals(outcome.payload))
      problems.push(`close reply ${closeSent?.toString("hex")} != ${outcome.payload.toString("hex")}`);
  } else if (outcome.kind === "fail") {
    if (o.errors.length !== 1 || !outcome.codes.includes(o.errors[0]))
      problems.push(
        `errors [${o.errors}] (${o.errorText.join("; ")}) != one of [${outcome.codes}] (${outcome.rule})`,
      );
    if (o.close && o.close.code !== 1006)
      problems.push(`close code ${o.close.code} after a failure, not 1006`);
    const code = closeSent && closeSent.length === 2 ? closeSent.readUInt16BE(0) : -1;
    if (code !== o.errors[0]) problems.push(`close frame sent ${closeSent?.toString("hex")} != error's code`);
  } else {
    if (o.errors.length > 0) problems.push(`errors ${o.errorText.join("; ")} while the peer broke no rule`);
    if (o.close && o.close.code !== 1006) problems.push(`close code ${o.close.code} != 1006 after a hang-up`);
    if (closeSent) problems.push("close frame sent while the peer broke no rule");
  }
  return problems;
}

export function short(items: string[]): string {
  const text = JSON.stringify(items.map((s) => (s.length > 60 ? `${s.slice(0, 60)}…(${s.length})` : s)));
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** A raw socket's bytes, collected. */
export class Collector {
  bytes: Buffer[] = [];
  ended = false;
  /** The socket's error code (ECONNRESET: the other end reset the connection). */
  error = "";
  constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.bytes.push(chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => (this.error ||= error.code ?? error.message));
    socket.on("close", () => (this.ended = true));
  }
  get all(): Buffer {
    return Buffer.concat(this.bytes);
  }
}

/** Write `pieces` one after another, a turn of the event loop apart when there are several. */
export async function writePieces(socket: net.Socket, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(piece);
    if (pieces.length > 1) await tick();
  }
}

/** The expected reading of a case's frames by the side under test, given what was negotiated. */
function modelOf(c: HostileCase, deflate: ModelConfig["deflate"]): ModelResult {
  return readFrames(Buffer.from(c.frames, "hex"), {
    role: c.role,
    maxPayload: c.config.maxPayload,
    deflate,
  });
}

/** One run's shared state: pools, servers, the raw peer server for clients. */
export class HostileRun {
  readonly pools: Record<HostConfig["pool"], EnginePool> = {
    small: new EnginePool({ maxConnections: 4, ioBytes: 4096 }, "mvp"),
    large: new EnginePool({ maxConnections: 64 }, "simd"),
  };
  private servers = new Map<string, ServerEntry>();
  private starting = new Map<string, Promise<ServerEntry>>();
  private records = new Map<number, Observed>();
  protected nextId = 1;
  readonly failures: Array<{ problems: string[]; case: HostileCase; where: string }> = [];
  private raw: net.Server | null = null;
  private rawPort: Promise<number> | null = null;
  /** The raw server's handler of each client case's connections (by the id in its request path, /c/<id>). */
  protected rawCases = new Map<number, (socket: net.Socket, request: string, rest: Buffer) => void>();
  connections = 0;
  /** Cases run at once. */
  concurrency = CONCURRENCY;

  constructor(readonly host: HostApi) {}

  /** The server for `config` (made on first use, with a canary connection that echoes). */
  private server(config: HostConfig): Promise<ServerEntry> {
    const key = configKey(config);
    let entry = this.starting.get(key);
    if (!entry) {
      // Kept as a promise at once: concurrent cases must share one server per configuration.
      entry = this.startServer(config);
      this.starting.set(key, entry);
    }
    return entry;
  }

  private async startServer(config: HostConfig): Promise<ServerEntry> {
    const key = configKey(config);
    const wss = new this.host.WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      maxPayload: config.maxPayload,
      fragments: config.fragments,
      perMessageDeflate: config.deflate,
      pool: this.pools[config.pool],
    });
    await new Promise<void>((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    });
    wss.on("connection", (ws, req) => this.attach(ws, (req as { url?: string }).url ?? ""));
    const port = wss.address()!.port;
    const canary = await Canary.open(port);
    const entry = { wss, port, canary };
    this.servers.set(key, entry);
    return entry;
  }

  private attach(ws: Host.BunServerConnection, url: string): void {
    const match = /^\/fuzz\/(\d+)$/.exec(url);
    const o = match ? this.records.get(Number(match[1])) : undefined;
    if (!o) {
      // The canary (and any other connection): echo, whole messages or chunks as the server delivers.
      let parts: Buffer[] = [];
      ws.on("message", (data, isBinary) => ws.send(data as Uint8Array, { binary: isBinary }));
      ws.on("fragment", (data, isBinary, first, last) => {
        if (first) parts = [];
        parts.push(Buffer.from(data as Uint8Array));
        if (last) ws.send(Buffer.concat(parts), { binary: isBinary });
      });
      return;
    }
    o.opened = true;
    const kind = (isBinary: boolean) => (isBinary ? "binary" : "text");
    ws.on("message", (data, isBinary) => deliver(o, kind(isBinary), Buffer.from(data as Uint8Array)));
    ws.on("fragment", (data, isBinary, first, last) =>
      chunk(o, kind(isBinary), Buffer.from(data as Uint8Array), first, last),
    );
    ws.on("ping", (data) => deliver(o, "ping", Buffer.from(data)));
    ws.on("pong", (data) => deliver(o, "pong", Buffer.from(data)));
    ws.on("error", (error) => fail(o, closeCodeOfError(error), error.message));
    ws.on("close", (code, reason) => {
      if (o.close) o.order.push("second close event");
      o.close = { code, reason: Buffer.from(reason) };
      o.wake();
    });
    (o as Observed & { extensions?: string }).extensions = ws.extensions;
  }

  /** Run one case against a server of the host; problems found, empty when the host did as modelled. */
  async serverCase(c: HostileCase): Promise<string[]> {
    const { port, canary } = await this.server(c.config);
    const id = this.nextId++;
    const o = observed();
    this.records.set(id, o);
    this.connections++;
    try {
      const agreement = serverAgreement(c);
      const model = modelOf(c, agreement ? { historyBytes: agreement.historyBytes } : null);
      const { socket, peer } = await sendCase(port, c, `/fuzz/${id}`);
      // Open: the server's connection event came and the peer has its 101.
      const status = requestVerdict(c.head);
      if (status !== 101) return await this.refused(status, o, peer);
      const problems = await this.settle(model, o, peer, () => o.opened && peer.all.includes("\r\n\r\n"));
      const all = peer.all;
      const headEnd = all.indexOf("\r\n\r\n");
      const response = headEnd < 0 ? all.toString("latin1") : all.subarray(0, headEnd).toString("latin1");
      if (!response.startsWith("HTTP/1.1 101")) return [`no 101: ${JSON.stringify(response.slice(0, 80))}`];
      const negotiated = /Sec-WebSocket-Extensions: permessage-deflate/i.test(response);
      if (negotiated !== (agreement !== null))
        problems.push(`deflate negotiated: ${negotiated}, expected ${!negotiated}`);
      problems.push(...judge(model, o, all.subarray(headEnd + 4), false));
      if (Math.random() < 0.2 && !(await canary.echo()))
        problems.push(`the canary stopped echoing: ${canary.last}`);
      return problems;
    } finally {
      this.records.delete(id);
    }
  }

  /** A request the server must refuse: its status, then the end of the connection, and no open. */
  private async refused(status: number, o: Observed, peer: Collector): Promise<string[]> {
    const problems: string[] = [];
    if (!(await until(o, () => peer.ended, CASE_DEADLINE))) {
      problems.push(`the server kept a refused connection open ${CASE_DEADLINE} ms`);
      peer.socket.destroy();
    }
    const answer = peer.all.toString("latin1");
    if (!answer.startsWith(`HTTP/1.1 ${status} `))
      problems.push(`answered ${JSON.stringify(answer.slice(0, 40))}, not ${status}`);
    if (o.opened) problems.push(`opened a connection for a request refused with ${status}`);
    return problems;
  }

  /** Wait for the outcome the model predicts; on "open", hang up once the events are in. */
  private async settle(
    model: ModelResult,
    o: Observed,
    peer: Collector,
    open: () => boolean,
  ): Promise<string[]> {
    const problems: string[] = [];
    if (model.outcome.kind === "open") {
      await until(o, open, CASE_DEADLINE);
      await until(o, () => o.events.length >= model.events.length || o.close !== null, CASE_DEADLINE);
      // Room for an event the model does not expect to show up.
      await sleep(5);
      peer.socket.destroy();
    }
    if (!(await until(o, () => o.close !== null && peer.ended, CASE_DEADLINE))) {
      problems.push(
        `no close within ${CASE_DEADLINE} ms (close event: ${o.close !== null}, TCP closed: ${peer.ended})`,
      );
      peer.socket.destroy();
      await until(o, () => o.close !== null, 1000);
    }
    return problems;
  }

  /** The raw server that plays the hostile server for clients (one, shared by concurrent cases). */
  protected rawServer(): Promise<number> {
    this.rawPort ??= new Promise<number>((resolve) => {
      this.raw = net.createServer((socket) => this.onRawSocket(socket));
      this.raw.listen(0, "127.0.0.1", () => resolve((this.raw!.address() as net.AddressInfo).port));
    });
    return this.rawPort;
  }

  /** A client dialed the raw server: read its request, then hand the socket to its case. */
  private onRawSocket(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const request = head.subarray(0, end + 4).toString("latin1");
      const handler = this.rawCases.get(Number(/^GET \/c\/(\d+) /.exec(request)?.[1]));
      if (handler) handler(socket, request, head.subarray(end + 4));
      else socket.destroy();
    };
    socket.on("data", onData);
  }

  /** Run one case against a client of the host. */
  async clientCase(c: HostileCase): Promise<string[]> {
    const port = await this.rawServer();
    const id = this.nextId++;
    const o = observed();
    this.connections++;
    const verdict = responseVerdict(c.head, c.config.deflate);
    const model = modelOf(c, verdict.deflate ? { historyBytes: verdict.deflate.historyBytes } : null);
    const serving = this.serve(id, c);
    const ws = new this.host.WebSocket(`ws://127.0.0.1:${port}/c/${id}`, undefined, {
      maxPayload: c.config.maxPayload,
      fragments: c.config.fragments,
      perMessageDeflate: c.config.deflate,
      pool: this.pools[c.config.pool],
      handshakeTimeout: CASE_DEADLINE,
    });
    const kind = (data: unknown) => (typeof data === "string" ? "text" : "binary");
    const bytesOf = (data: unknown) =>
      typeof data === "string" ? Buffer.from(data) : Buffer.from(data as Uint8Array);
    ws.addEventListener("open", () => {
      if (o.opened || o.close) o.order.push("open twice or after close");
      o.opened = true;
    });
    const needOpen = (what: string) => {
      if (!o.opened) o.order.push(`${what} before open`);
    };
    ws.addEventListener("message", (e) => {
      const data = (e as MessageEvent).data as unknown;
      needOpen("message");
      deliver(o, kind(data), bytesOf(data));
    });
    let text = "";
    ws.addEventListener("fragment", (e) => {
      const f = e as unknown as { data: unknown; binary: boolean; first: boolean; last: boolean };
      needOpen("fragment");
      if (f.binary) return chunk(o, "binary", bytesOf(f.data), f.first, f.last);
      // Text chunks are decoded across chunks: judge the text so far, as bytes.
      text = (f.first ? "" : text) + (f.data as string);
      if (f.first) chunk(o, "text", Buffer.alloc(0), true, false);
      if (o.streaming) o.streaming.parts = [Buffer.from(text)];
      if (f.last) chunk(o, "text", Buffer.alloc(0), false, true);
    });
    ws.addEventListener("ping", (e) => deliver(o, "ping", bytesOf((e as MessageEvent).data)));
    ws.addEventListener("pong", (e) => deliver(o, "pong", bytesOf((e as MessageEvent).data)));
    ws.addEventListener("error", (e) => {
      const error = (e as unknown as { error?: Error }).error;
      fail(o, closeCodeOfError(error), error?.message ?? "error event");
    });
    ws.addEventListener("close", (e) => {
      const event = e as unknown as { code: number; reason: string; wasClean: boolean };
      if (o.close) o.order.push("second close event");
      o.close = { code: event.code, reason: Buffer.from(event.reason), wasClean: event.wasClean };
      o.wake();
    });
    try {
      const socketPeer = await serving.peer;
      if (!socketPeer) return ["the client never sent its upgrade request"];
      if (!serving.requestOk()) return ["the client's request has no Sec-WebSocket-Key"];
      const problems: string[] = [];
      if (c.lax || !verdict.ok) {
        // A damaged head may still be a valid 101: then hang up once it opened.
        await until(o, () => o.close !== null || o.opened, CASE_DEADLINE);
        if (o.opened && !o.close) await sleep(5);
        socketPeer.socket.destroy();
        if (!(await until(o, () => o.close !== null, CASE_DEADLINE))) problems.push("no close event");
        if (o.errors.length > 1) problems.push(`${o.errors.length} error events`);
        if (!o.opened) {
          if (c.lax) return problems;
          if (o.errors.length !== 1)
            problems.push(`bad 101 (${verdict.why}): ${o.errors.length} error events`);
          if (o.close && o.close.code !== 1006) problems.push(`bad 101: close code ${o.close.code}`);
          return [...problems, ...o.order];
        }
        if (!c.lax) problems.push(`opened on a bad 101 (${verdict.why})`);
        return problems;
      }
      if (!(await until(o, () => o.opened || o.close !== null, CASE_DEADLINE)) || !o.opened)
        return [`never opened on a valid 101: ${o.errorText.join("; ")}`];
      problems.push(...(await this.settle(model, o, socketPeer, () => o.opened)));
      problems.push(...judge(model, o, socketPeer.all, true));
      if (o.close && o.close.wasClean !== (model.outcome.kind === "close"))
        problems.push(`wasClean ${o.close.wasClean} for a ${model.outcome.kind} outcome`);
      return problems;
    } finally {
      this.rawCases.delete(id);
      if (!o.close) ws.terminate();
    }
  }

  /**
   * Play case `c`'s server for the client that dials `/c/<id>` on the raw server: the head (its accept
   * computed from the client's key) and frames, in the case's pieces. `peer` resolves once all is written
   * (null when no client came within CASE_DEADLINE); the peer answers a close frame with its FIN. With
   * `holdReads`, the peer reads nothing more until it resolves (what the client sends waits in the kernel, as
   * with a busy server), then sends one more byte, as a server still sending when the client leaves: a client
   * that closed its socket instead of half-closing it answers that with RST (the peer's `error`).
   */
  protected serve(
    id: number,
    c: HostileCase,
    holdReads?: Promise<unknown>,
  ): { peer: Promise<Collector | null>; requestOk: () => boolean } {
    let requestOk = true;
    const written = new Promise<Collector>((resolve) => {
      this.rawCases.set(id, (socket, request, rest) => {
        const peer = new Collector(socket);
        if (rest.length > 0) peer.bytes.push(rest);
        const key = /^Sec-WebSocket-Key: (.*)$/im.exec(request)?.[1]?.trim() ?? "";
        if (!key) requestOk = false;
        const head = c.head.replaceAll("{accept}", acceptFor(key));
        const bytes = Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(c.frames, "hex")]);
        // The host answers its close frame; a head that never ends is followed by our FIN.
        socket.on("data", () => {
          const { frames } = framesOf(peer.all);
          if (frames.some((f) => f.opcode === 8)) socket.end();
        });
        if (holdReads) {
          socket.pause();
          void holdReads.then(() => {
            if (!socket.destroyed) socket.write(Buffer.from([0]));
            socket.resume();
          });
        }
        void writePieces(socket, splitAt(bytes, c.cuts)).then(() => {
          if (!head.includes("\r\n\r\n")) socket.end();
          resolve(peer);
        });
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), CASE_DEADLINE)));
    const peer = Promise.race([written, late]).finally(() => clearTimeout(timer));
    return { peer, requestOk: () => requestOk };
  }

  /** Forget case `id`'s handler on the raw server. */
  protected unserve(id: number): void {
    this.rawCases.delete(id);
  }

  /** Run a case and keep it if it fails. */
  async run(c: HostileCase, where: string): Promise<void> {
    const started = Date.now();
    let problems: string[];
    try {
      problems = c.role === "server" ? await this.serverCase(c) : await this.clientCase(c);
    } catch (error) {
      problems = [`threw: ${(error as Error).stack ?? error}`];
    }
    if (problems.length > 0) this.failures.push({ problems, case: c, where });
    if (process.env.FUZZ_SLOW && Date.now() - started > Number(process.env.FUZZ_SLOW))
      console.log(`${where}: ${Date.now() - started} ms ${JSON.stringify(c).slice(0, 400)}`);
  }

  /**
   * `count` generated cases of `role` from `seed`, CONCURRENCY at a time; server cases pick their
   * configuration from `configs` (every one the host supports by default).
   */
  async fuzz(
    role: "server" | "client",
    seed: number,
    count: number,
    first = 0,
    configs: HostConfig[] = allServerConfigs(),
  ): Promise<void> {
    let next = first;
    const worker = async () => {
      while (next < first + count) {
        const index = next++;
        const rng = new Rng(caseSeed(seed, index));
        const c = role === "server" ? serverCase(rng, rng.pick(configs)) : this.generateClientCase(rng);
        await this.run(c, `FUZZ_SEED=${seed} case ${index}`);
      }
    };
    await Promise.all([...Array(this.concurrency)].map(worker));
  }

  /** A client case with a random configuration of the client under test. */
  protected generateClientCase(rng: Rng): HostileCase {
    return clientCase(rng, randomConfig(rng));
  }

  /** Every server still accepts and echoes, and every canary still echoes; problems found. */
  async checkServers(): Promise<string[]> {
    const problems: string[] = [];
    for (const [key, { port, canary }] of this.servers) {
      if (!(await canary.echo())) problems.push(`${key}: the canary stopped echoing: ${canary.last}`);
      const fresh = await Canary.open(port).catch(() => null);
      if (!fresh || !(await fresh.echo())) problems.push(`${key}: a new connection is not echoed`);
      await fresh?.close();
    }
    return problems;
  }

  /** Close every server, canary and the raw server. */
  async close(): Promise<void> {
    for (const { wss, canary } of this.servers.values()) {
      await canary.close();
      await wss.close();
    }
    this.servers.clear();
    this.starting.clear();
    await new Promise<void>((resolve) => (this.raw ? this.raw.close(() => resolve()) : resolve()));
    this.raw = null;
    this.rawPort = null;
  }

  /** Servers made so far (each holds one canary connection). */
  get serverCount(): number {
    return this.servers.size;
  }

  /** Slots still held in the pools, once the count stops above `expected` for a second at most. */
  async slotsInUse(expected: number): Promise<number> {
    const count = () => this.pools.small.inUse + this.pools.large.inUse;
    // A server releases a slot on its socket's close, a moment after the peer saw the TCP close.
    for (let i = 0; i < 100 && count() > expected; i++) await sleep(10);
    return count();
  }

  /** A report of the failures, each with its case as JSON to keep in test/vectors/hostile-cases.json. */
  report(): string {
    return this.failures
      .slice(0, 5)
      .map((f) => `${f.where}: ${f.problems.join("\n  ")}\n  case: ${JSON.stringify(f.case)}`)
      .join("\n\n");
  }

  /** With FUZZ_RECORD set, append the failing cases to the vectors file (`npm run fuzz` does). */
  record(file: string): void {
    if (!process.env.FUZZ_RECORD || this.failures.length === 0) return;
    const kept = JSON.parse(fs.readFileSync(file, "utf8")) as { cases: HostileCase[] };
    // Cases found by this run's random connections (kept cases that fail again are there already).
    for (const f of this.failures.filter((f) => f.where.startsWith("FUZZ_SEED")))
      kept.cases.push({ ...f.case, note: `${f.case.note}; found by ${f.where}` });
    fs.writeFileSync(file, JSON.stringify(kept, null, 2) + "\n");
  }
}

/**
 * The hostile client against an echo server in another process (the C host's wsk_echo_server): the server's
 * deliveries are seen only as its echoes, so the model's messages are judged against the text and binary
 * messages it sends back, its pings against the pongs; pongs it received are not seen. Each configuration
 * (no deflate, whole messages) has its own server at `ports[configKey(config)]`, serving `path`.
 */
export class EchoServerRun extends HostileRun {
  private canaries = new Map<string, Promise<Canary>>();
  skipped = 0;
  /** Below the server's 8 engine slots with its canary, and one more connection beside. */
  override concurrency = 5;

  constructor(
    readonly ports: Map<string, number>,
    readonly path: string,
  ) {
    super(null as unknown as HostApi);
  }

  private canaryFor(key: string): Promise<Canary> {
    let canary = this.canaries.get(key);
    if (!canary) {
      canary = Canary.open(this.ports.get(key)!, this.path);
      this.canaries.set(key, canary);
    }
    return canary;
  }

  override async serverCase(c: HostileCase): Promise<string[]> {
    const key = configKey(c.config);
    const port = this.ports.get(key);
    if (port === undefined) return [`no server for ${key}`];
    const canary = await this.canaryFor(key);
    this.connections++;
    const model = modelOf(c, null);
    // The echo server's text commands ("broadcast:", "close:", "clients") answer otherwise than an echo.
    if (
      model.events.some(
        (e) => e.kind === "text" && /^(broadcast:|close:|clients$)/.test(e.data.toString("latin1")),
      )
    ) {
      this.skipped++;
      return [];
    }
    const { socket, peer } = await sendCase(port, c, this.path);
    const poll = async (ready: () => boolean) => {
      const deadline = Date.now() + CASE_DEADLINE;
      while (!ready() && Date.now() < deadline) await sleep(2);
      return ready();
    };
    const status = requestVerdict(c.head);
    if (status !== 101) {
      const problems: string[] = [];
      if (!(await poll(() => peer.ended))) problems.push(`the server kept a refused connection open`);
      socket.destroy();
      const answer = peer.all.toString("latin1");
      // The status may differ from ws's choice; any refusal will do.
      if (!/^HTTP\/1\.1 [45]\d\d /.test(answer))
        problems.push(`answered ${JSON.stringify(answer.slice(0, 40))}, not a refusal (${status})`);
      return problems;
    }
    const headEnd = () => peer.all.indexOf("\r\n\r\n");
    const echoed = () => echoesOf(peer.all.subarray(headEnd() + 4));
    const wanted = model.events.filter((e) => e.kind === "text" || e.kind === "binary").map(modelEvent);
    const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
    const problems: string[] = [];
    if (model.outcome.kind === "open") {
      await poll(
        () =>
          peer.ended ||
          (headEnd() >= 0 &&
            echoed().messages.length >= wanted.length &&
            echoed().pongs.length >= pings.length),
      );
      await sleep(5);
      socket.destroy();
    } else if (!(await poll(() => peer.ended))) {
      problems.push(`no TCP close within ${CASE_DEADLINE} ms`);
      socket.destroy();
    }
    const response =
      headEnd() < 0 ? peer.all.toString("latin1") : peer.all.subarray(0, headEnd()).toString("latin1");
    // A server that closes its socket with the peer's bytes unread makes the kernel send RST (the C host did
    // until it lingered): the peer loses what it had not read yet.
    if (peer.error) problems.push(`socket error ${peer.error}`);
    if (!response.startsWith("HTTP/1.1 101"))
      return [...problems, `no 101: ${JSON.stringify(response.slice(0, 80))}`];
    if (/Sec-WebSocket-Extensions:/i.test(response)) problems.push("an extension negotiated");
    const got = echoed();
    problems.push(...got.problems);
    // The engine writes its own output for a read (pongs, its close frame) before the host sees that read's
    // events: the echoes of messages in the read that ends the connection come after the close frame, and
    // are refused. So when the connection ends, the echoes are a prefix of the messages delivered.
    const ends = model.outcome.kind !== "open";
    const echoedAll = JSON.stringify(got.messages) === JSON.stringify(wanted);
    const echoedPrefix =
      JSON.stringify(wanted.slice(0, got.messages.length)) === JSON.stringify(got.messages);
    if (ends ? !echoedPrefix : !echoedAll)
      problems.push(`echoes ${short(got.messages)} != model ${short(wanted)}`);
    const outcome = model.outcome;
    const allPongs = outcome.kind !== "open";
    if (!samePongs(allPongs ? pings : pings.slice(0, got.pongs.length), got.pongs))
      problems.push(`pongs ${short(got.pongs)} != pings ${short(pings)}`);
    if (got.closes.length > 1) problems.push(`${got.closes.length} close frames sent`);
    const closeSent = got.closes[0];
    if (outcome.kind === "close") {
      if (!closeSent || !closeSent.equals(outcome.payload))
        problems.push(`close reply ${closeSent?.toString("hex")} != ${outcome.payload.toString("hex")}`);
    } else if (outcome.kind === "fail") {
      const code = closeSent && closeSent.length === 2 ? closeSent.readUInt16BE(0) : -1;
      if (!outcome.codes.includes(code))
        problems.push(
          `close frame sent ${closeSent?.toString("hex")} != one of [${outcome.codes}] (${outcome.rule})`,
        );
    } else if (closeSent) problems.push("close frame sent while the peer broke no rule");
    if (Math.random() < 0.2 && !(await canary.echo()))
      problems.push(`the canary stopped echoing: ${canary.last}`);
    return problems;
  }

  override async checkServers(): Promise<string[]> {
    const problems: string[] = [];
    for (const [key, port] of this.ports) {
      const canary = await this.canaries.get(key);
      if (canary && !(await canary.echo()))
        problems.push(`${key}: the canary stopped echoing: ${canary.last}`);
      const fresh = await Canary.open(port, this.path).catch(() => null);
      if (!fresh || !(await fresh.echo())) problems.push(`${key}: a new connection is not echoed`);
      await fresh?.close();
    }
    return problems;
  }

  override async close(): Promise<void> {
    for (const canary of this.canaries.values()) await (await canary).close();
    this.canaries.clear();
  }
}

/** An echo server's output after its 101: its messages (fragments joined) as "kind:hex", pongs, close payloads. */
function echoesOf(bytes: Buffer): {
  messages: string[];
  pongs: string[];
  closes: Buffer[];
  problems: string[];
} {
  const { frames, rest } = framesOf(bytes);
  const out = {
    messages: [] as string[],
    pongs: [] as string[],
    closes: [] as Buffer[],
    problems: [] as string[],
  };
  if (rest > 0) out.problems.push(`${rest} bytes sent that are no whole frame`);
  let message: { kind: string; parts: Buffer[] } | null = null;
  for (const f of frames) {
    if (f.rsv !== 0 || f.masked) out.problems.push(`frame sent with rsv ${f.rsv} masked ${f.masked}`);
    if (f.opcode === 1 || f.opcode === 2) {
      if (message) out.problems.push("a new message inside a fragmented one");
      message = { kind: f.opcode === 1 ? "text" : "binary", parts: [f.payload] };
    } else if (f.opcode === 0) {
      if (!message) out.problems.push("a continuation without a message");
      message?.parts.push(f.payload);
    } else if (f.opcode === 10) out.pongs.push(f.payload.toString("hex"));
    else if (f.opcode === 8) out.closes.push(f.payload);
    else out.problems.push(`unexpected frame sent: opcode ${f.opcode}`);
    if (message && f.fin && f.opcode <= 2) {
      out.messages.push(`${message.kind}:${Buffer.concat(message.parts).toString("hex")}`);
      message = null;
    }
  }
  return out;
}

/** A server under test and its canary. */
interface ServerEntry {
  wss: Host.WebSocketServer;
  port: number;
  canary: Canary;
}

/** A connection that echoes, kept open beside the fuzzed ones: the server must go on serving it. */
class Canary {
  readonly peer: Collector;
  private seen = 0;
  private counter = 0;
  private constructor(private readonly socket: net.Socket) {
    this.peer = new Collector(socket);
  }

  static async open(port: number, path = "/canary"): Promise<Canary> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const canary = new Canary(socket);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: canary\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const deadline = Date.now() + CASE_DEADLINE;
    while (!canary.peer.all.includes("\r\n\r\n") && Date.now() < deadline && !canary.peer.ended)
      await sleep(2);
    const all = canary.peer.all;
    if (!all.toString("latin1").startsWith("HTTP/1.1 101")) throw new Error("canary refused");
    canary.seen = all.indexOf("\r\n\r\n") + 4;
    return canary;
  }

  private busy: Promise<unknown> = Promise.resolve();

  /** Send a text message and wait for it to come back (one round trip at a time). */
  echo(): Promise<boolean> {
    const result = this.busy.then(() => this.roundTrip());
    this.busy = result;
    return result;
  }

  private async roundTrip(): Promise<boolean> {
    const text = `canary ${++this.counter}`;
    const payload = Buffer.from(text);
    const key = Buffer.from([1, 2, 3, 4]);
    const masked = payload.map((b, i) => b ^ key[i & 3]);
    this.socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, masked]));
    const deadline = Date.now() + CASE_DEADLINE;
    while (Date.now() < deadline && !this.peer.ended) {
      const parsed = parseFrame(this.peer.all.subarray(this.seen));
      if (parsed) {
        this.seen += parsed.size;
        const ok = parsed.frame.opcode === 1 && parsed.frame.payload.toString() === text;
        if (!ok)
          this.last = `got opcode ${parsed.frame.opcode} ${JSON.stringify(parsed.frame.payload.toString())}`;
        return ok;
      }
      await sleep(2);
    }
    this.last = this.peer.ended ? "connection closed" : "no echo in time";
    return false;
  }

  /** Why the last round trip failed. */
  last = "";

  async close(): Promise<void> {
    this.socket.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
    const deadline = Date.now() + CASE_DEADLINE;
    while (!this.peer.ended && Date.now() < deadline) await sleep(2);
    this.socket.destroy();
  }
}

/** Heap bytes in use after a full collection, where the runtime lets a test ask for one. */
export async function heapAfterGc(): Promise<number | null> {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) {
    bun.gc(true);
    return process.memoryUsage().heapUsed;
  }
  const v8 = await import("node:v8");
  const vm = await import("node:vm");
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as (() => void) | undefined;
  if (typeof gc !== "function") return null;
  gc();
  await tick();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Settings of a fuzz run from the environment: FUZZ_SEED, FUZZ_CONNECTIONS (per role). */
export function fuzzSettings(defaultCount: number): { seed: number; count: number } {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  const count = process.env.FUZZ_CONNECTIONS ? Number(process.env.FUZZ_CONNECTIONS) : defaultCount;
  return { seed, count };
}

/**
 * Connect to `port` and write a server case's bytes, its request path replaced by `path`, split where the case
 * says (cuts behind the head shifted by the path's change in length).
 */
async function sendCase(
  port: number,
  c: HostileCase,
  path: string,
): Promise<{ socket: net.Socket; peer: Collector }> {
  const head = c.head.replace(" /fuzz ", ` ${path} `);
  const shift = head.length - c.head.length;
  const bytes = Buffer.concat([Buffer.from(head, "latin1"), Buffer.from(c.frames, "hex")]);
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const peer = new Collector(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  await writePieces(
    socket,
    splitAt(
      bytes,
      c.cuts.map((cut) => (cut > c.head.length ? cut + shift : cut)),
    ),
  );
  return { socket, peer };
}
