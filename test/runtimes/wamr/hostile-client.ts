// The hostile server (test/support/hostile-peer.ts, hostile-run.ts) against the C client (include/wsk_client.h),
// driven by client_driver.c: each case's 101 response (sometimes padded past the client's buffer) and frames go
// to a C client with the case's settings (buffer_size, max_message_size, max_fragment_size, ping_interval_sec),
// whose app may send messages as soon as it is connected, and what the client reported is judged against the
// reference model (test/support/reference-model.ts): its DATA chunks joined into messages byte for byte, its
// pings and pongs, the frames it sent (pongs, its close frame, its own pings, the app's messages, nothing after
// its close frame), and how it ended (a handshake error for a bad or too large 101; one RFC close code for a
// broken rule; the close code of a clean close; no reset of the connection).
import {
  clientCase,
  responseVerdict,
  type CClientConfig,
  type HostileCase,
  type Rng,
} from "../../support/hostile-peer.js";
import {
  CASE_DEADLINE,
  framesOf,
  HostileRun,
  modelEvent,
  short,
  sleep,
  type Collector,
} from "../../support/hostile-run.js";
import type { RawFrame } from "../../support/raw-client.js";
import { readFrames, type ModelResult } from "../../support/reference-model.js";
import { ErrorType, type ClientDriver, type ClientEvent, type DrivenClient } from "./client-driver.js";

const BUFFER_SIZES = [256, 512, 1024, 4096, 16384];
const MAX_MESSAGE_SIZES = [64, 1000, 70_000, 1 << 20, 0];
const SEND_SIZES = [0, 1, 125, 126, 1000, 5000, 70_000];
/** What max_message_size 0 stands for: INT_MAX, the most a DATA event's payload_len reports. */
const MAX_MESSAGE_SIZE_0 = 2 ** 31 - 1;
/** The engine's receive area (CONFIG_WSK_ENGINE_IO_BYTES / 2): a 101 head must end within it, less one byte. */
const RECEIVE_AREA = 1024;
/** Settings for kept cases that carry none. */
const DEFAULT_SETTINGS: CClientConfig = {
  bufferSize: 1024,
  maxMessageSize: 0,
  pingIntervalSec: 0,
  maxFragmentSize: 0,
  sends: [],
};

/** A case for the C client: random settings, then a hostile 101 and frames for them (no deflate: the C client offers none). */
export function cClientCase(rng: Rng): HostileCase {
  const cClient: CClientConfig = {
    bufferSize: rng.pick(BUFFER_SIZES),
    maxMessageSize: rng.pick(MAX_MESSAGE_SIZES),
    pingIntervalSec: rng.pick([0, 0, 1]),
    maxFragmentSize: rng.pick([0, 0, 100, 1000]),
    sends: rng.chance(0.3) ? [...Array(1 + rng.int(3))].map(() => rng.pick(SEND_SIZES)) : [],
  };
  // 0 (INT_MAX): frames are generated as for 1 MiB.
  const maxPayload = cClient.maxMessageSize || 1 << 20;
  const c = clientCase(rng, { maxPayload, fragments: "stream", deflate: false, pool: "small" });
  if (rng.chance(0.1)) {
    // A header line that makes the head end near the client's limit, on either side, or anywhere up to 2 KB.
    const limit = headLimit(cClient);
    const target = rng.chance(0.5) ? limit + rng.int(9) - 4 : rng.int(2000);
    const pad = Math.max(0, target - wireHeadLength(c.head) - 9);
    const at = c.head.indexOf("\n") + 1;
    c.head = `${c.head.slice(0, at)}X-Pad: ${"p".repeat(pad)}\r\n${c.head.slice(at)}`;
    c.note = `${c.note} head-pad${pad}`.trim();
  }
  return { ...c, cClient };
}

/** The longest 101 head the client takes: its buffer_size, and the engine's receive area less one byte. */
function headLimit(settings: CClientConfig): number {
  return Math.min(settings.bufferSize, RECEIVE_AREA - 1);
}

/** Bytes of the head as sent (the accept value is 28 characters), through its blank line; -1 if it has none. */
function wireHeadLength(head: string): number {
  const end = head.replaceAll("{accept}", "x".repeat(28)).indexOf("\r\n\r\n");
  return end < 0 ? -1 : end + 4;
}

/** The bytes of the app's `index`th message: text (even) or binary (odd), `size` bytes of 'a'..'z'. */
function sentMessage(index: number, size: number): string {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = 0x61 + (i % 26);
  return `${index % 2 === 0 ? "text" : "binary"}:${bytes.toString("hex")}`;
}

/** The client's DATA events read back: completed deliveries as "kind:hex", the message in progress, the close. */
function deliveries(events: ClientEvent[]): {
  events: string[];
  partial: { kind: string; parts: Buffer[] } | null;
  close: { code: number; reason: Buffer } | null;
  problems: string[];
} {
  const out = {
    events: [] as string[],
    partial: null as { kind: string; parts: Buffer[] } | null,
    close: null as { code: number; reason: Buffer } | null,
    problems: [] as string[],
  };
  // The frame whose chunks are arriving: its opcode as reported, bytes so far, announced length.
  let frame: { op: number; offset: number; length: number } | null = null;
  for (const e of events) {
    if (e.name !== "DATA") continue;
    const d = e;
    const where = `DATA op ${d.op} offset ${d.offset} len ${d.data.length} payload_len ${d.payloadLen}`;
    if (d.op === 8 || d.op === 9 || d.op === 10) {
      if (!d.fin || d.offset !== 0 || d.payloadLen !== d.data.length) out.problems.push(`control ${where}`);
      if (d.op !== 8) out.events.push(`${d.op === 9 ? "ping" : "pong"}:${d.data.toString("hex")}`);
      else if (out.close) out.problems.push("a second close frame reported");
      else out.close = { code: d.closeCode, reason: d.data };
      continue;
    }
    if (d.op > 2) {
      out.problems.push(`DATA with opcode ${d.op}`);
      continue;
    }
    const continuing = frame !== null && frame.offset < frame.length;
    if (continuing && (d.op !== frame!.op || d.offset !== frame!.offset))
      out.problems.push(`${where} inside a frame at ${frame!.offset} of ${frame!.length} (op ${frame!.op})`);
    if (!continuing) {
      if (d.offset !== 0) out.problems.push(`${where} starts a frame`);
      if (d.op !== 0) {
        if (out.partial) out.problems.push("a new message inside a fragmented one");
        out.partial = { kind: d.op === 1 ? "text" : "binary", parts: [] };
      } else if (!out.partial) out.problems.push("a continuation without a message");
    }
    if (d.offset + d.data.length > d.payloadLen) out.problems.push(`${where}: past the frame's end`);
    frame = { op: d.op, offset: d.offset + d.data.length, length: d.payloadLen };
    out.partial?.parts.push(d.data);
    if (!d.fin) continue;
    if (frame.offset !== frame.length) out.problems.push(`${where}: fin before the frame's end`);
    if (out.partial)
      out.events.push(`${out.partial.kind}:${Buffer.concat(out.partial.parts).toString("hex")}`);
    out.partial = null;
  }
  if (out.problems.length > 5)
    out.problems.splice(5, out.problems.length - 5, `… ${out.problems.length - 5} more`);
  return out;
}

/** The order every client's events keep, whatever the server did. */
function orderProblems(events: ClientEvent[]): string[] {
  const names = events.map((e) => e.name);
  const problems: string[] = [];
  if (names[0] !== "BEGIN" || names[1] !== "BEFORE_CONNECT")
    problems.push(`events begin ${names.slice(0, 2)}`);
  if (names.filter((n) => n === "FINISH").length !== 1 || names.at(-1) !== "FINISH")
    problems.push(`FINISH not once and last: ${short(names)}`);
  const ends = names.filter((n) => n === "CLOSED" || n === "DISCONNECTED");
  if (ends.length !== 1 || names.indexOf(ends[0]) !== names.length - 2)
    problems.push(`not one CLOSED or DISCONNECTED right before FINISH: ${short(names)}`);
  if (names.filter((n) => n === "ERROR").length > 1) problems.push(`more than one ERROR: ${short(names)}`);
  const connected = names.indexOf("CONNECTED");
  const firstData = names.indexOf("DATA");
  if (firstData >= 0 && (connected < 0 || firstData < connected)) problems.push("DATA before CONNECTED");
  for (const name of names)
    if (
      !["BEGIN", "BEFORE_CONNECT", "CONNECTED", "DATA", "ERROR", "CLOSED", "DISCONNECTED", "FINISH"].includes(
        name,
      )
    )
      problems.push(`unexpected ${name}`);
  return problems;
}

/**
 * The frames the client sent after its request: all masked, RSV 0, whole; control frames only pongs, its own
 * empty pings and one close frame; the app's messages as they were sent (in frames of max_fragment_size), each
 * one whose send returned its size (`sendResults`) when the server read to the end (`complete`), and nothing
 * after the close frame.
 */
function judgeSent(
  sent: Buffer,
  settings: CClientConfig,
  sendResults: number[],
  complete: boolean,
): { frames: RawFrame[]; problems: string[] } {
  const { frames, rest } = framesOf(sent);
  const problems: string[] = [];
  if (rest > 0) problems.push(`${rest} bytes sent that are no whole frame`);
  const messages: string[] = [];
  let message: { kind: string; parts: Buffer[] } | null = null;
  let closed = false;
  for (const f of frames) {
    const what = `opcode ${f.opcode} fin ${f.fin} rsv ${f.rsv} masked ${f.masked} length ${f.payload.length}`;
    if (f.rsv !== 0 || !f.masked) problems.push(`frame sent with ${what}`);
    if (closed) problems.push(`frame sent after the close frame: ${what}`);
    if (f.opcode === 8) closed = true;
    if (f.opcode >= 8) {
      if (!f.fin || ![8, 9, 10].includes(f.opcode) || (f.opcode === 9 && f.payload.length > 0))
        problems.push(`unexpected control frame sent: ${what}`);
      continue;
    }
    if (settings.maxFragmentSize > 0 && f.payload.length > settings.maxFragmentSize)
      problems.push(`data frame sent longer than max_fragment_size: ${what}`);
    if (f.opcode === 0 && !message) problems.push(`continuation sent without a message: ${what}`);
    if (f.opcode !== 0 && message) problems.push(`message sent inside another: ${what}`);
    if (f.opcode > 2) problems.push(`unexpected frame sent: ${what}`);
    if (f.opcode !== 0) message = { kind: f.opcode === 1 ? "text" : "binary", parts: [] };
    message?.parts.push(f.payload);
    if (f.fin && message) messages.push(`${message.kind}:${Buffer.concat(message.parts).toString("hex")}`);
    if (f.fin) message = null;
  }
  const wanted = settings.sends.map((size, i) => (sendResults[i] === size ? sentMessage(i, size) : null));
  const delivered = complete ? wanted.filter((m) => m !== null) : messages;
  if (
    JSON.stringify(messages) !== JSON.stringify(delivered) ||
    messages.some((m, i) => !settings.sends.some((size, k) => k >= i && sentMessage(k, size) === m))
  )
    problems.push(
      `app messages on the wire ${short(messages)} != the sends that returned their size ${short(wanted.map(String))}`,
    );
  return { frames, problems };
}

/** Judge what the client did on an accepted connection against the model; `sent`: its bytes after the request. */
function judgeOpen(
  model: ModelResult,
  events: ClientEvent[],
  sent: Buffer,
  settings: CClientConfig,
  sendResults: number[],
): string[] {
  const got = deliveries(events);
  const problems = [...got.problems];
  const expected = model.events.map(modelEvent);
  if (JSON.stringify(got.events) !== JSON.stringify(expected))
    problems.push(`delivered ${short(got.events)} != model ${short(expected)}`);
  if (got.partial) {
    const have = Buffer.concat(got.partial.parts);
    const want = model.partial?.data ?? Buffer.alloc(0);
    if (have.length > want.length || !want.subarray(0, have.length).equals(have))
      problems.push(`streamed ${have.length} bytes of an unfinished message not a prefix of the model's`);
  }
  const outcome = model.outcome;
  // When the client ended the connection the server read all it sent; on a hang-up, what it had so far.
  const judged = judgeSent(sent, settings, sendResults, outcome.kind !== "open");
  const frames = judged.frames;
  problems.push(...judged.problems);
  const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString("hex"));
  const pings = model.events.filter((e) => e.kind === "ping").map((e) => e.data.toString("hex"));
  // After a close frame nothing more is read, so every ping before it was answered; on a hang-up the last
  // pongs may still have been on their way.
  const allPongs = outcome.kind !== "open";
  if (allPongs ? pongs.join() !== pings.join() : pings.slice(0, pongs.length).join() !== pongs.join())
    problems.push(`pongs ${short(pongs)} != pings ${short(pings)}`);
  const closes = frames.filter((f) => f.opcode === 8);
  if (closes.length > 1) problems.push(`${closes.length} close frames sent`);
  const closeSent = closes[0]?.payload;
  const errors = events.filter((e) => e.name === "ERROR");
  const end = events.at(-2);
  if (outcome.kind === "close") {
    if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} on a clean close`);
    if (!got.close || got.close.code !== outcome.code || !got.close.reason.equals(outcome.reason))
      problems.push(
        `close reported ${got.close?.code} ${got.close?.reason.toString("hex")} != ${outcome.code} ${outcome.reason.toString("hex")}`,
      );
    if (end?.name !== "CLOSED" || end.closeCode !== outcome.code)
      problems.push(`ended ${end?.name} ${end?.closeCode}, not CLOSED ${outcome.code}`);
    if (!closeSent || !closeSent.equals(outcome.payload))
      problems.push(`close reply ${closeSent?.toString("hex")} != ${outcome.payload.toString("hex")}`);
  } else if (outcome.kind === "fail") {
    const code = errors[0]?.closeCode;
    if (errors.length !== 1 || errors[0].type !== ErrorType.Protocol || !outcome.codes.includes(code))
      problems.push(
        `ERROR ${errors.map((e) => `type ${e.type} code ${e.closeCode}`)} != protocol error with one of [${outcome.codes}] (${outcome.rule})`,
      );
    const sentCode = closeSent && closeSent.length === 2 ? closeSent.readUInt16BE(0) : -1;
    if (sentCode !== code)
      problems.push(`close frame sent ${closeSent?.toString("hex")} != the error's ${code}`);
    if (end?.name !== "DISCONNECTED" || end.closeCode !== code)
      problems.push(`ended ${end?.name} ${end?.closeCode}, not DISCONNECTED ${code}`);
    if (got.close) problems.push("a close frame reported on a failed connection");
  } else {
    if (errors.length > 0) problems.push(`ERROR type ${errors[0].type} while the server broke no rule`);
    if (end?.name !== "DISCONNECTED" || end.closeCode !== 1006)
      problems.push(`ended ${end?.name} ${end?.closeCode} after a hang-up, not DISCONNECTED 1006`);
    if (closeSent) problems.push("close frame sent while the server broke no rule");
  }
  return problems;
}

/** Hostile-server cases against C clients of one driver process. */
export class CClientRun extends HostileRun {
  /** Below the engine's 8 slots (CONFIG_WSK_MAX_CONNECTIONS), shared by the driver's clients. */
  override concurrency = 6;

  constructor(readonly driver: ClientDriver) {
    super(null as never);
  }

  protected override generateClientCase(rng: Rng): HostileCase {
    return cClientCase(rng);
  }

  override async clientCase(c: HostileCase): Promise<string[]> {
    const port = await this.rawServer();
    const id = this.nextId++;
    this.connections++;
    const settings = { ...DEFAULT_SETTINGS, ...c.cClient };
    const verdict = responseVerdict(c.head, false);
    // A valid head longer than the client takes is refused as a bad one is.
    const headLength = wireHeadLength(c.head);
    if (verdict.ok && headLength > headLimit(settings))
      Object.assign(verdict, { ok: false, why: `head of ${headLength} bytes > ${headLimit(settings)}` });
    const model = readFrames(Buffer.from(c.frames, "hex"), {
      role: "client",
      maxPayload: settings.maxMessageSize || MAX_MESSAGE_SIZE_0,
      deflate: null,
    });
    const client = this.driver.open(id, port, `/c/${id}`, settings, CASE_DEADLINE);
    // The server reads what the client sends (pongs, its close frame) only once the client reported the
    // connection's end, then sends one more byte: a client that closed its socket then, instead of
    // half-closing it and reading to the server's FIN, resets the connection (and a server still writing to it
    // may lose what it had not read yet).
    const ended = client.until(() => client.has("CLOSED") || client.has("DISCONNECTED"), 2 * CASE_DEADLINE);
    const serving = this.serve(id, c, ended);
    // The app sends its messages once connected (from the driver's main thread, one after another).
    void client
      .until(() => client.has("CONNECTED") || client.finished, CASE_DEADLINE)
      .then(() => {
        if (client.has("CONNECTED"))
          settings.sends.forEach((size, i) => this.driver.send(id, i % 2 === 0 ? "text" : "binary", size));
      });
    const sendResults = () =>
      client.replies.filter((r) => r.startsWith("SENT ")).map((r) => Number(r.split(" ")[1]));
    try {
      const peer = await serving.peer;
      if (!peer)
        return [`the client never sent its upgrade request: ${short(client.events.map((e) => e.name))}`];
      if (!serving.requestOk()) return ["the client's request has no Sec-WebSocket-Key"];
      const problems = await this.finish(c, verdict.ok, model, client, peer, settings.sends.length);
      const names = client.events.map((e) => e.name);
      problems.push(...orderProblems(client.events));
      const errors = client.events.filter((e) => e.name === "ERROR");
      if (!names.includes("CONNECTED")) {
        if (c.lax) return problems;
        if (verdict.ok) return [...problems, `never opened on a valid 101: ${short(names)}`];
        if (errors.length !== 1 || errors[0].type !== ErrorType.Handshake)
          problems.push(
            `bad 101 (${verdict.why}): ERROR types [${errors.map((e) => e.type)}], not one handshake error`,
          );
        return problems;
      }
      if (c.lax) return [...problems, ...deliveries(client.events).problems];
      if (!verdict.ok) return [...problems, `opened on a bad 101 (${verdict.why})`];
      problems.push(...judgeOpen(model, client.events, peer.all, settings, sendResults()));
      if (model.outcome.kind !== "open" && peer.error)
        problems.push(`the client reset the connection (${peer.error}) instead of closing it`);
      return problems;
    } finally {
      this.unserve(id);
      this.driver.forget(id);
    }
  }

  /** Wait for the client to end as the model says; when the server's input just stops, hang up first. */
  private async finish(
    c: HostileCase,
    ok: boolean,
    model: ModelResult,
    client: DrivenClient,
    peer: Collector,
    sends: number,
  ): Promise<string[]> {
    const problems: string[] = [];
    await client.until(() => client.has("CONNECTED") || client.finished, CASE_DEADLINE);
    const sent = () => !client.has("CONNECTED") || client.replies.length >= sends;
    if (!client.finished && (c.lax || !ok || model.outcome.kind === "open")) {
      if (ok && !c.lax)
        await client.until(
          () => (deliveries(client.events).events.length >= model.events.length && sent()) || client.finished,
          CASE_DEADLINE,
        );
      // Room for an event the model does not expect to show up.
      await sleep(5);
      peer.socket.destroy();
    }
    if (!(await client.until(() => client.destroyed && sent(), CASE_DEADLINE))) {
      problems.push(
        `the client did not finish within ${CASE_DEADLINE} ms: ${short(client.events.map((e) => e.name))}`,
      );
      peer.socket.destroy();
      await client.until(() => client.destroyed, CASE_DEADLINE);
    }
    // Its last bytes (a close frame) are in once the TCP connection is closed.
    for (let i = 0; i < 100 && !peer.ended; i++) await sleep(10);
    peer.socket.destroy();
    return problems;
  }
}
