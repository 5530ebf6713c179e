// A fan-out server for bench/fanout.ts under Bun:   node_modules/.bin/bun bench/fanout-server-bun.ts <impl>
//   wasmsocket: our Bun host from dist/ with `publish`; bun.serve: Bun's native server with its `publish`.
// Connections to /sub receive topic "t"; each message from /pub is published to it. Prints {"port": n}.
// FANOUT_DEFLATE=1: permessage-deflate on (and Bun.serve's publish asked to compress). BENCH_DIST: another
// build's dist/ for ours (bench/fanout.ts's BENCH_BASE).
const impl = process.argv[2] ?? "wasmsocket";
const deflate = process.env.FANOUT_DEFLATE === "1";

let port: number;
if (impl === "bun.serve") {
  const server = Bun.serve<{ sub: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const sub = new URL(req.url).pathname.startsWith("/sub");
      return srv.upgrade(req, { data: { sub } })
        ? undefined
        : new Response("upgrade required", { status: 426 });
    },
    websocket: {
      maxPayloadLength: 1 << 20,
      perMessageDeflate: deflate,
      idleTimeout: 0,
      backpressureLimit: 32 * 1024 * 1024,
      open(ws) {
        if (ws.data.sub) ws.subscribe("t");
      },
      message(_ws, message) {
        server.publish("t", message, deflate);
      },
    },
  });
  port = server.port!;
} else {
  const dist = process.env.BENCH_DIST || "../dist";
  const { WebSocketServer } = (await import(
    `${dist}/runtimes/bun/index.js` as string
  )) as typeof import("../runtimes/bun/index.js");
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: 1 << 20,
    heartbeat: false,
    perMessageDeflate: deflate,
  });
  server.on("connection", (ws, req) => {
    if (req.url.startsWith("/sub")) ws.subscribe("t");
    else ws.on("message", (data, isBinary) => server.publish("t", data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  port = server.address()!.port;
}
console.log(JSON.stringify({ port }));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
