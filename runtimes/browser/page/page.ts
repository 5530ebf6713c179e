// The test page: connect to any ws:// or wss:// server, log every event, send text/binary/files,
// close with a code, measure latency and throughput, chat across tabs, and run the engine self-test.
import { WebSocketClient } from "../client.js";
import { drawChart } from "./chart.js";
import { ChatSession, type ChatMessage } from "./chat.js";
import { latencyTest, throughputTest, type EchoChannel } from "./perf.js";
import { selfTest, type FrameVector } from "./selftest.js";

/** test/vectors/frames.json, inlined by scripts/build-page.mjs (esbuild `define`). */
declare const __FRAME_VECTORS__: FrameVector[];

const $ = <T extends HTMLElement = HTMLInputElement>(id: string) => document.getElementById(id) as T;
const stateNames = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];

let client: WebSocketClient | null = null;
/** While a latency/throughput test runs, echoes go to it instead of the log. */
let echoListener: ((data: string | ArrayBuffer) => void) | null = null;

// ---- log ----

function timestamp(): string {
  const now = new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
}

function log(kind: string, text: string): void {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  const time = document.createElement("time");
  time.textContent = timestamp();
  const label = document.createElement("span");
  label.className = "kind";
  label.textContent = kind;
  item.append(time, label, document.createTextNode(text));
  const list = $<HTMLOListElement>("log");
  list.append(item);
  while (list.childElementCount > 2000) list.firstElementChild!.remove();
  list.scrollTop = list.scrollHeight;
}

function hexOf(bytes: Uint8Array, limit = 64): string {
  const shown = Array.from(bytes.subarray(0, limit), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return bytes.length > limit ? `${shown} …` : shown;
}

function describe(data: unknown): string {
  if (typeof data === "string") {
    const size = new TextEncoder().encode(data).length;
    return `text (${size} B): ${data.length > 500 ? data.slice(0, 500) + "…" : data}`;
  }
  if (data instanceof ArrayBuffer) return `binary (${data.byteLength} B): ${hexOf(new Uint8Array(data))}`;
  if (ArrayBuffer.isView(data)) {
    return `binary (${data.byteLength} B): ${hexOf(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))}`;
  }
  return String(data);
}

// ---- connection ----

function showState(): void {
  const output = $<HTMLOutputElement>("state");
  const name = client ? stateNames[client.readyState] : "CLOSED";
  output.dataset.state = name;
  output.textContent = client
    ? `${name}${client.protocol ? ` (protocol ${client.protocol})` : ""}`
    : "not connected";
}

function connect(): void {
  client?.close(1000, "reconnecting from the page");
  const url = $("url").value.trim();
  const protocols = $("protocols")
    .value.split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  let next: WebSocketClient;
  try {
    next = new WebSocketClient(url, protocols, {
      reconnect: $("reconnect").checked ? { minDelay: 500, maxDelay: 10_000 } : false,
      binaryType: "arraybuffer",
    });
  } catch (error) {
    return log("error", `cannot connect: ${String(error)}`);
  }
  client = next;
  const mine = (handler: (event: Event) => void) => (event: Event) => {
    if (client === next) handler(event);
    showState();
  };
  next.addEventListener(
    "connecting",
    mine(() => log("connecting", url + (protocols.length ? ` protocols=${protocols.join(",")}` : ""))),
  );
  next.addEventListener(
    "open",
    mine(() => log("open", `protocol="${next.protocol}" extensions="${next.extensions}"`)),
  );
  next.addEventListener(
    "message",
    mine((event) => {
      const data = (event as MessageEvent).data as string | ArrayBuffer;
      if (echoListener) return echoListener(data);
      log("message", describe(data));
    }),
  );
  next.addEventListener(
    "error",
    mine(() => log("error", "the connection reported an error")),
  );
  next.addEventListener(
    "close",
    mine((event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      log("close", `code=${code} reason="${reason}" wasClean=${wasClean}`);
    }),
  );
  next.addEventListener(
    "reconnecting",
    mine((event) => {
      const { attempt, delay } = (event as CustomEvent<{ attempt: number; delay: number }>).detail;
      log("reconnect", `attempt ${attempt} in ${delay} ms (${next.queuedMessages} sends queued)`);
    }),
  );
  next.addEventListener(
    "finish",
    mine((event) => log("finish", (event as CustomEvent<{ reason: string }>).detail.reason)),
  );
  showState();
}

function send(data: string | Uint8Array): void {
  if (!client || client.readyState > WebSocketClient.OPEN) return log("error", "not connected");
  try {
    client.send(data);
    log("sent", (client.readyState === WebSocketClient.OPEN ? "" : "(queued) ") + describe(data));
  } catch (error) {
    log("error", String(error));
  }
}

function parseHex(text: string): Uint8Array | null {
  const digits = text.replace(/0x|[\s,:]/gi, "");
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) return null;
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

async function sendFile(): Promise<void> {
  const file = $("file").files?.[0];
  if (!file) return log("error", "choose a file first");
  send(new Uint8Array(await file.arrayBuffer()));
}

function closeConnection(): void {
  if (!client) return log("error", "not connected");
  const code = Number($("close-code").value);
  const reason = $("close-reason").value;
  try {
    client.close(code, reason);
    log("closing", `code=${code} reason="${reason}"`);
    showState();
  } catch (error) {
    log("error", `close(${code}): ${String(error)}`);
  }
}

// ---- latency and throughput ----

function echoChannel(): EchoChannel | null {
  const current = client;
  if (!current || current.readyState !== WebSocketClient.OPEN) {
    log("error", "connect to an echo server first");
    return null;
  }
  return {
    send: (data) => current.send(data),
    listen: (onMessage) => {
      echoListener = onMessage;
      return () => void (echoListener = null);
    },
  };
}

const count = (id: string, min: number) => Math.max(min, Math.floor(Number($(id).value) || 0));

async function runLatency(): Promise<void> {
  const channel = echoChannel();
  if (!channel || echoListener) return;
  const output = $<HTMLOutputElement>("latency-result");
  output.textContent = "running…";
  try {
    const r = await latencyTest(channel, count("latency-count", 1));
    const ms = (v: number) => `${v.toFixed(3)} ms`;
    output.textContent = `${r.count} echoes: min ${ms(r.min)}, median ${ms(r.median)}, p99 ${ms(r.p99)}, max ${ms(r.max)}`;
    output.dataset.median = String(r.median);
    drawChart($<SVGSVGElement & HTMLElement>("latency-chart"), "Round trip per echo", "ms", r.samples);
    log("latency", output.textContent);
  } catch (error) {
    output.textContent = `failed: ${String(error)}`;
    log("error", `latency test: ${String(error)}`);
  }
}

async function runThroughput(): Promise<void> {
  const channel = echoChannel();
  if (!channel || echoListener) return;
  const output = $<HTMLOutputElement>("throughput-result");
  output.textContent = "running…";
  const messages = count("throughput-count", 1);
  const size = count("throughput-size", 0);
  const inFlight = count("throughput-inflight", 1);
  try {
    const r = await throughputTest(channel, messages, size, inFlight);
    output.textContent =
      `${r.messages} × ${r.size} B, ${r.inFlight} in flight: ${r.megabytesPerSecond.toFixed(2)} MB/s, ` +
      `${Math.round(r.messagesPerSecond)} msgs/s in ${r.seconds.toFixed(3)} s; ` +
      `${r.verified}/${r.messages} echoes verified byte for byte` +
      (r.mismatches ? `, ${r.mismatches} MISMATCHED` : "");
    output.className = r.mismatches ? "fail" : "pass";
    output.dataset.verified = String(r.verified);
    output.dataset.mismatches = String(r.mismatches);
    drawChart(
      $<SVGSVGElement & HTMLElement>("throughput-chart"),
      "Throughput over the run",
      "MB/s",
      r.timeline,
    );
    log("throughput", output.textContent);
  } catch (error) {
    output.textContent = `failed: ${String(error)}`;
    output.className = "fail";
    log("error", `throughput test: ${String(error)}`);
  }
}

// ---- chat ----

let chat: ChatSession | null = null;

function joinChat(): void {
  chat?.leave();
  const list = $<HTMLUListElement>("chat-messages");
  chat = new ChatSession($("chat-url").value.trim(), {
    state: (text) => void ($<HTMLOutputElement>("chat-state").textContent = text),
    message: (m: ChatMessage) => {
      const item = document.createElement("li");
      const name = document.createElement("b");
      name.textContent = m.name;
      item.append(name, document.createTextNode(`: ${m.text}`));
      list.append(item);
      list.scrollTop = list.scrollHeight;
    },
  });
}

function sayInChat(event: SubmitEvent): void {
  event.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text) return;
  if (!chat) joinChat();
  chat!.say($("chat-name").value.trim() || "anonymous", text);
  $("chat-text").value = "";
}

// ---- engine self-test ----

async function runSelfTest(): Promise<void> {
  const failures = $<HTMLUListElement>("selftest-failures");
  failures.replaceChildren();
  for (const build of ["simd", "mvp"] as const) {
    const output = $<HTMLOutputElement>(`selftest-${build}`);
    const total = __FRAME_VECTORS__.length;
    output.textContent = `${build}: running…`;
    const r = await selfTest(__FRAME_VECTORS__, build, (done) => {
      output.textContent = `${build}: ${done}/${total}…`;
    });
    output.textContent =
      `${build}: ${r.passed}/${total} vectors passed, ${r.failed} failed ` +
      `(${r.runs} feeds: whole, every split, byte by byte, streamed; ${Math.round(r.milliseconds)} ms)`;
    output.className = r.failed ? "fail" : "pass";
    Object.assign(output.dataset, { passed: r.passed, failed: r.failed, total });
    for (const failure of r.failures) {
      const item = document.createElement("li");
      item.textContent = `${build}: ${failure}`;
      failures.append(item);
    }
    log("self-test", output.textContent);
  }
}

// ---- wiring ----

function init(): void {
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const host = location.host || "localhost:8080";
  $("url").value = params.get("url") ?? `${scheme}://${host}/echo`;
  $("chat-url").value = params.get("chat") ?? `${scheme}://${host}/chat`;
  $("chat-name").value = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
  $("connect").addEventListener("click", connect);
  $("send-text").addEventListener("click", () =>
    send($<HTMLTextAreaElement & HTMLInputElement>("text").value),
  );
  $("send-hex").addEventListener("click", () => {
    const bytes = parseHex($("hex").value);
    if (bytes) send(bytes);
    else log("error", "hex input needs pairs of hex digits");
  });
  $("send-file").addEventListener("click", () => void sendFile());
  $("close").addEventListener("click", closeConnection);
  $("run-latency").addEventListener("click", () => void runLatency());
  $("run-throughput").addEventListener("click", () => void runThroughput());
  $("chat-join").addEventListener("click", joinChat);
  $<HTMLFormElement>("chat-form").addEventListener("submit", sayInChat);
  $("run-selftest").addEventListener("click", () => void runSelfTest());
  $("clear-log").addEventListener("click", () => $<HTMLOListElement>("log").replaceChildren());
  drawChart(
    $<SVGSVGElement & HTMLElement>("latency-chart"),
    "Round trip per echo (run the latency test)",
    "ms",
    [],
  );
  drawChart(
    $<SVGSVGElement & HTMLElement>("throughput-chart"),
    "Throughput (run the throughput test)",
    "MB/s",
    [],
  );
  document.body.dataset.ready = "true";
}

init();
