// Long hostile-peer fuzz runs (test/runtimes/shared/hostile-*.test.ts): the same fuzzers `npm test` runs,
// with many more connections, under vitest on Node and then bun test on Bun, then the hostile server against the
// C client (test/runtimes/wamr/hostile-client.test.ts: the count on x86-64, a sixth on i386, a twelfth on ARM).
// Failing cases are appended to test/vectors/hostile-cases.json and hostile-c-client-cases.json (FUZZ_RECORD),
// so they are replayed by every later run; fix, then commit.
// Usage: npm run fuzz [-- connections-per-role]; FUZZ_SEED=n repeats a run; FUZZ_SLOW=ms prints cases
// slower than that.
import { spawnSync } from "node:child_process";

const connections = process.argv[2] ?? process.env.FUZZ_CONNECTIONS ?? "20000";
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 32));
const files = ["test/runtimes/shared/hostile-server.test.ts", "test/runtimes/shared/hostile-client.test.ts"];
const env = { ...process.env, FUZZ_CONNECTIONS: connections, FUZZ_SEED: seed, FUZZ_RECORD: "1" };
const runs = [
  ["node_modules/.bin/vitest", ["run", ...files]],
  ["node_modules/.bin/bun", ["test", ...files]],
  ["node_modules/.bin/vitest", ["run", "test/runtimes/wamr/hostile-client.test.ts"]],
];
console.log(`hostile-peer fuzz: ${connections} connections per role per runtime, FUZZ_SEED=${seed}`);
let failed = false;
for (const [command, args] of runs) {
  const result = spawnSync(command, args, { stdio: "inherit", env });
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
