// N Bun processes on one port (SO_REUSEPORT: the kernel spreads connections), topics joined through Redis.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8080 WORKERS=4 bun examples/cluster/bun.ts
// Each worker prints "worker <pid> listening on <port>"; SIGTERM/SIGINT to the parent stops them all.
import { availableParallelism } from "node:os";
import { WebSocketServer } from "../../runtimes/bun/index.js";
import { settings, startWorker } from "./app.js";

const { port, workers, redisUrl } = settings(availableParallelism());

if (!process.env.CLUSTER_WORKER) {
  const children = Array.from({ length: workers }, () =>
    Bun.spawn([process.execPath, import.meta.path], {
      env: { ...process.env, CLUSTER_WORKER: "1" },
      stdio: ["ignore", "inherit", "inherit"],
    }),
  );
  const stop = () => {
    for (const child of children) child.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await Promise.all(children.map((child) => child.exited));
} else {
  await startWorker(redisUrl, port, (adapter) => new WebSocketServer({ port, reusePort: true, adapter }));
}
