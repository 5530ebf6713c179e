// A client that stays connected (esp_websocket_client's use case): reconnect with exponential backoff and
// jitter, messages queued while reconnecting, a heartbeat that drops a dead server, lifecycle events.
// Run: npx tsx examples/client-reconnect.ts [url]   (try it against examples/echo-server.ts, then stop
// and restart that server)
import { WebSocket } from "../runtimes/node/index.js";

const url = process.argv[2] ?? "ws://localhost:8080/ws";
const ws = new WebSocket(url, [], {
  reconnect: { minDelay: 500, maxDelay: 10_000, factor: 2, jitter: 0.5, queue: "queue" },
  heartbeat: { interval: 10_000, timeout: 5_000 },
  maxFragmentSize: 4096,
});

ws.addEventListener("connecting", (e) =>
  console.log("connecting, attempt", (e as CustomEvent).detail.attempt),
);
ws.addEventListener("open", () => console.log("open", ws.url));
ws.addEventListener("message", (e) => console.log("message:", (e as MessageEvent).data));
ws.addEventListener("error", (e) => console.log("error:", (e as Event & { message?: string }).message));
ws.addEventListener("close", (e) => console.log("close", (e as CloseEvent).code, (e as CloseEvent).reason));
ws.addEventListener("reconnecting", (e) => {
  const { attempt, delay } = (e as CustomEvent).detail;
  console.log(`reconnecting (attempt ${attempt}) in ${delay} ms`);
});
ws.addEventListener("finish", (e) => console.log("finish:", (e as CustomEvent).detail.reason));

let n = 0;
const timer = setInterval(() => ws.send(`hello #${++n}`), 2000); // queued while reconnecting

process.on("SIGINT", () => {
  clearInterval(timer);
  ws.close(1000, "bye"); // no reconnect after an asked-for close; "finish" follows "close"
});
