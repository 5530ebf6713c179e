// A CommonJS app (node or bun socketio-exit.cjs <require|import> <module> [deflate]): socket.io with
// `wsEngine` the module's WebSocketServer, loaded by require() or import(); clients on websocket, on polling
// upgraded to websocket and on polling stay connected while io.close() runs. It prints what the clients saw
// and must then exit by itself: a handle left open (a socket, a timer, a zlib stream) keeps it alive, and
// the watchdog (unref'd: it cannot keep the process alive itself) names what is left and exits 3.
const http = require("node:http");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");

async function main() {
  const [how, spec, deflate] = process.argv.slice(2);
  const loaded = how === "require" ? require(spec) : await import(spec);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    wsEngine: loaded.WebSocketServer,
    perMessageDeflate: deflate === "deflate" ? { threshold: 0 } : false,
  });
  io.on("connection", (socket) => socket.on("echo", (data, ack) => ack(data)));
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${httpServer.address().port}`;
  const clients = [];
  for (const transports of [["websocket"], ["polling", "websocket"], ["polling"]]) {
    const socket = connect(url, { transports, forceNew: true, reconnection: false });
    const upgraded =
      transports.length === 2
        ? new Promise((resolve) => socket.io.once("open", () => socket.io.engine.once("upgrade", resolve)))
        : null;
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    await upgraded;
    const back = await socket.timeout(5000).emitWithAck("echo", Buffer.from("echo"));
    if (!Buffer.isBuffer(back) || back.toString() !== "echo") throw new Error("bad echo");
    clients.push(socket);
  }
  const transports = clients.map((socket) => socket.io.engine.transport.name);
  const engine = io.engine.ws.constructor === loaded.WebSocketServer;
  const reasons = Promise.all(clients.map((socket) => new Promise((r) => socket.once("disconnect", r))));
  const closed = new Promise((resolve) => io.close(() => resolve(true)));
  const result = { transports, engine, reasons: await reasons, httpClosed: await closed };
  console.log(JSON.stringify({ ...result, listening: httpServer.listening }));
  setTimeout(() => {
    const left = process._getActiveHandles().map((handle) => handle.constructor.name);
    console.error(`still running 5 s after io.close(): ${left.join(", ")}`);
    process.exit(3);
  }, 5000).unref();
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
