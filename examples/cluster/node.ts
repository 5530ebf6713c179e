// N Node worker processes on one port (node:cluster), their topics joined through Redis.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8080 WORKERS=4 npx tsx examples/cluster/node.ts
// Each worker prints "worker <pid> listening on <port>"; the primary restarts none and exits with them.
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { createRedisAdapter } from "../../bindings/redis-adapter.js";
import { WebSocketServer } from "../../runtimes/node/index.js";
import { chatRooms, settings } from "./app.js";

const { port, workers, redisUrl } = settings(availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const adapter = await createRedisAdapter({ url: redisUrl });
  adapter.on("error", (error) => console.error(`worker ${process.pid}: ${error.message}`));
  const wss = new WebSocketServer({ port, adapter });
  chatRooms(wss, adapter);
  wss.on("listening", () => console.log(`worker ${process.pid} listening on ${port}`));
  process.on("SIGTERM", async () => {
    await wss.close();
    await adapter.close();
    process.exit(0);
  });
}
