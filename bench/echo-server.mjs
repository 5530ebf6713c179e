// An echo server for bench/echo.ts, run with plain node (no transpiler in the measured process):
//   node bench/echo-server.mjs <wasmsocket|ws>     (ws pure JS when WS_NO_BUFFER_UTIL=1)
// wasmsocket is loaded from dist/ (built by `npm run build`). Prints {"port": n}; exits when stdin closes.
const impl = process.argv[2] ?? "wasmsocket";
const { WebSocketServer } =
  impl === "ws" ? await import("ws") : await import("../dist/runtimes/node/index.js");

const options = { port: 0, host: "127.0.0.1", maxPayload: 1 << 20 };
if (impl !== "ws") options.heartbeat = false;
const server = new WebSocketServer(options);
server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
server.on("listening", () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
