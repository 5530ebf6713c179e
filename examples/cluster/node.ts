// N Node worker processes on one port (node:cluster), their topics joined through Redis.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8080 WORKERS=4 npx tsx examples/cluster/node.ts
// Each worker prints "worker <pid> listening on <port>"; the primary restarts none and exits with them.
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { WebSocketServer } from "../../runtimes/node/index.js";
import { settings, startWorker } from "./app.js";

const { port, workers, redisUrl } = settings(availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  await startWorker(redisUrl, port, (adapter) => new WebSocketServer({ port, adapter }));
}
