// An app whose listeners throw (node or bun throw-in-listener.mjs): a throw in a server connection's or a
// client's `message` listener, or in a client's `close` listener, is an uncaught exception, as on Node, and
// the connection goes on. Prints one JSON line: the uncaught messages and what each side received after.
const isBun = typeof Bun !== "undefined";
const { WebSocket, WebSocketServer } = await import(
  isBun ? "../../../dist/runtimes/bun/index.js" : "../../../dist/runtimes/node/index.js"
);
const uncaught = [];
process.on("uncaughtException", (error) => uncaught.push(error.message));
const serverGot = [];
const clientGot = [];
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((resolve) => wss.once("listening", resolve));
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    serverGot.push(String(data));
    if (String(data) === "first") throw new Error("server listener threw");
    ws.send(`echo ${data}`);
  });
});
const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`);
ws.on("open", () => ws.send("first"));
ws.on("message", (data) => {
  clientGot.push(String(data));
  if (String(data) === "hello") throw new Error("client listener threw");
  if (String(data) === "echo second") ws.close(1000);
});
ws.on("close", (code) => {
  clientGot.push(`close ${code}`);
  setTimeout(async () => {
    await wss.close();
    console.log(JSON.stringify({ uncaught, serverGot, clientGot }));
    process.exit(0);
  }, 50);
  throw new Error("close listener threw");
});
// The server's first message throws: then the server says hello (the client's listener throws), and the
// client sends again on the same connection.
setTimeout(() => {
  for (const peer of wss.clients) peer.send("hello");
  setTimeout(() => ws.send("second"), 50);
}, 100);
setTimeout(() => {
  console.log(JSON.stringify({ uncaught, serverGot, clientGot, timedOut: true }));
  process.exit(3);
}, 5000);
