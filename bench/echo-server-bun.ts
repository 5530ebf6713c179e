// An echo server for bench/echo.ts under Bun:   node_modules/.bin/bun bench/echo-server-bun.ts <impl>
//   wasmsocket: our Bun host, from dist/ (built by `npm run build`); bun.serve: Bun's native WebSocket server.
// Prints {"port": n}; exits when stdin closes.
const impl = process.argv[2] ?? "wasmsocket";
const MAX_PAYLOAD = 1 << 20;

let port: number;
if (impl === "bun.serve") {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("upgrade required", { status: 426 });
    },
    websocket: {
      maxPayloadLength: MAX_PAYLOAD,
      perMessageDeflate: false,
      idleTimeout: 0,
      message(ws, message) {
        ws.send(message);
      },
    },
  });
  port = server.port!;
} else {
  // BENCH_DIST: another build's dist/ (bench/echo.ts's BENCH_BASE).
  const dist = process.env.BENCH_DIST || "../dist";
  const { WebSocketServer } = (await import(
    `${dist}/runtimes/bun/index.js` as string
  )) as typeof import("../runtimes/bun/index.js");
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: MAX_PAYLOAD,
    heartbeat: false,
  });
  server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  port = server.address()!.port;
}
console.log(JSON.stringify({ port }));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
