// A fan-out server for bench/fanout.ts, run with plain node (no transpiler in the measured process):
//   node bench/fanout-server.mjs <wasmsocket|ws|uws>      (REDIS_URL set: wasmsocket with the Redis adapter)
// Connections to /sub receive topic "t"; each message from a connection to /pub goes to all of them:
// wasmsocket and uWebSockets.js with `publish`, ws with the usual loop over `clients`. Prints {"port": n};
// exits on stdin end. FANOUT_DEFLATE=1: permessage-deflate on (each server's defaults: ws compresses per
// client, ours and uWS's shared compressor once per message). BENCH_DIST: another build's dist/ for ours
// (bench/fanout.ts's BENCH_BASE).
const impl = process.argv[2] ?? "wasmsocket";
const deflate = process.env.FANOUT_DEFLATE === "1";
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
if (impl === "uws") {
  const { uws, listen, common } = await import("./uws.mjs");
  const app = uws.App();
  const compression = deflate ? { compression: uws.SHARED_COMPRESSOR } : {};
  app.ws("/sub", { ...common, ...compression, open: (ws) => ws.subscribe("t") });
  // uWS's idiom: the publisher's `ws.publish` (the topic tree batches each subscriber's messages into one
  // write per event-loop iteration; `app.publish` writes to every subscriber at once, message by message).
  // A connection publishes only once it has a subscription of its own: a topic nobody publishes to.
  app.ws("/pub", {
    ...common,
    ...compression,
    open: (ws) => ws.subscribe("publisher"),
    message: (ws, message, isBinary) => ws.publish("t", message, isBinary, deflate),
  });
  console.log(JSON.stringify({ port: await listen(app) }));
} else await wsServer();

async function wsServer() {
  const { WebSocketServer } =
    impl === "ws"
      ? await import("ws")
      : await import(`${process.env.BENCH_DIST || "../dist"}/runtimes/node/index.js`);

  const options = { port: 0, host: "127.0.0.1", maxPayload: 1 << 20, perMessageDeflate: deflate };
  if (impl !== "ws") {
    options.heartbeat = false;
    if (process.env.REDIS_URL) {
      const { createRedisAdapter } = await import("../dist/adapters/redis.js");
      options.adapter = await createRedisAdapter({ url: process.env.REDIS_URL, prefix: "bench:" });
    }
  }
  const server = new WebSocketServer(options);
  const subscribers = new Set();
  server.on("connection", (ws, req) => {
    if (req.url.startsWith("/sub")) {
      if (impl === "ws") {
        subscribers.add(ws);
        ws.on("close", () => subscribers.delete(ws));
      } else ws.subscribe("t");
      return;
    }
    ws.on("message", (data, isBinary) => {
      if (impl !== "ws") return server.publish("t", data, { binary: isBinary });
      for (const client of server.clients)
        if (subscribers.has(client)) client.send(data, { binary: isBinary });
    });
  });
  server.on("listening", () => console.log(JSON.stringify({ port: server.address().port })));
}
