// N Bun processes on one port (SO_REUSEPORT: the kernel spreads connections), topics joined through Redis.
//   REDIS_URL=redis://127.0.0.1:6379 PORT=8080 WORKERS=4 bun examples/cluster/bun.ts
// Each worker prints "worker <pid> listening on <port>"; SIGTERM/SIGINT to the parent stops them all.
import { availableParallelism } from "node:os";
import { createRedisAdapter } from "../../bindings/redis-adapter.js";
import { WebSocketServer } from "../../runtimes/bun/index.js";
import { chatRooms, settings } from "./app.js";

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
  const adapter = await createRedisAdapter({ url: redisUrl });
  adapter.on("error", (error) => console.error(`worker ${process.pid}: ${error.message}`));
  const wss = new WebSocketServer({ port, reusePort: true, adapter });
  chatRooms(wss, adapter);
  wss.on("listening", () => console.log(`worker ${process.pid} listening on ${port}`));
  process.on("SIGTERM", async () => {
    await wss.close();
    await adapter.close();
    process.exit(0);
  });
}
