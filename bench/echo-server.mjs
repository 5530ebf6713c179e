// An echo server for bench/echo.ts and bench/deflate.ts, run with plain node (no transpiler in the measured
// process):  node bench/echo-server.mjs <wasmsocket|ws|net-floor> [options JSON]
// ws pure JS when WS_NO_BUFFER_UTIL=1. The options are added to the WebSocketServer's (deflate.ts passes
// `perMessageDeflate`). wasmsocket is loaded from dist/ (built by `npm run build`). Prints {"port": n};
// exits when stdin closes.
// net-floor is no WebSocket server: a node:net server that answers the first bytes of each connection with
// a fixed 101 response (no parsing, no key) and then writes every read back as it came (no framing, no
// unmasking). It measures what accepting, reading, writing and closing cost on node:net alone: the floor
// under any WebSocket server's rates on Node.
import * as net from "node:net";
import { pathToFileURL } from "node:url";

const impl = process.argv[2] ?? "wasmsocket";
const extra = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const report = (server) => console.log(JSON.stringify({ port: server.address().port }));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));

if (impl === "uws") {
  // uWebSockets.js (native C++), bench/uws.mjs: echoes each message as it came, binary or text.
  const { uws, listen, common } = await import("./uws.mjs");
  const app = uws
    .App()
    .ws("/*", { ...common, message: (ws, message, isBinary) => ws.send(message, isBinary) });
  console.log(JSON.stringify({ port: await listen(app) }));
} else if (impl === "net-floor") {
  const response = Buffer.from(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
  );
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => {
      socket.write(response);
      socket.on("data", (chunk) => socket.write(chunk));
    });
  });
  server.listen(0, "127.0.0.1", () => report(server));
} else {
  const { WebSocketServer } =
    impl === "ws"
      ? await import("ws")
      : process.env.BENCH_DIST // another build's dist/ (bench/echo.ts's BENCH_BASE)
        ? await import(pathToFileURL(`${process.env.BENCH_DIST}/runtimes/node/index.js`).href)
        : await import("../dist/runtimes/node/index.js");
  const options = { port: 0, host: "127.0.0.1", maxPayload: 1 << 20, ...extra };
  // The echo cells measure messages, not liveness: our heartbeat is off unless the options ask for it.
  if (impl !== "ws" && !("heartbeat" in extra)) options.heartbeat = false;
  const server = new WebSocketServer(options);
  server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.on("listening", () => report(server));
}
