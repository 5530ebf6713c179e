// One server process for the Redis scale-out tests, on Node or Bun (the built dist/ of either host):
//   node|bun pubsub-server.mjs <redis-url> <prefix>
// Prints its port, then serves: a connection subscribes to the topics in `?t=a,b`; text commands:
//   pub:<topic>:<body>   server.publish(topic, body)      bcast:<body>   server.broadcast(body)
//   pubplain:<topic>:<body>   server.publish(topic, body, { compress: false })
//   sub:<topic> / unsub:<topic> / settle   (answer "ok" once Redis has confirmed every subscription)
//   stats   answers the adapter's counters as JSON       count:<topic>  answers subscriberCount
// Exits when stdin closes.
const isBun = typeof Bun !== "undefined";
const dist = new URL("../../dist/", import.meta.url);
const { WebSocketServer } = await import(new URL(`runtimes/${isBun ? "bun" : "node"}/index.js`, dist).href);
const { createRedisAdapter } = await import(new URL("adapters/redis.js", dist).href);

const [url, prefix] = process.argv.slice(2);
const adapter = await createRedisAdapter({ url, prefix, redisOptions: { retryStrategy: () => 100 } });
adapter.on("error", () => {});
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, adapter, perMessageDeflate: true });
await new Promise((resolve) => wss.once("listening", resolve));

wss.on("connection", (ws, req) => {
  const query = new URL(req.url, "http://x").searchParams;
  for (const topic of (query.get("t") ?? "").split(",").filter(Boolean)) ws.subscribe(topic);
  ws.on("message", async (data) => {
    const text = String(data);
    const colon = text.indexOf(":");
    const [command, rest] = colon === -1 ? [text, ""] : [text.slice(0, colon), text.slice(colon + 1)];
    if (command === "pub" || command === "pubplain") {
      const at = rest.indexOf(":");
      wss.publish(rest.slice(0, at), rest.slice(at + 1), { compress: command === "pub" });
    } else if (command === "bcast") wss.broadcast(rest);
    else if (command === "sub" || command === "unsub") {
      if (command === "sub") ws.subscribe(rest);
      else ws.unsubscribe(rest);
      await adapter.settled();
      ws.send("ok");
    } else if (command === "settle") {
      await adapter.settled();
      ws.send("ok");
    } else if (command === "stats") ws.send(JSON.stringify(adapter.stats));
    else if (command === "count") ws.send(String(wss.subscriberCount(rest)));
  });
});

console.log(wss.address().port);

process.stdin.resume();
process.stdin.on("end", async () => {
  await wss.close();
  await adapter.close();
  process.exit(0);
});
