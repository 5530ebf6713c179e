// A hostile server against our client, on Node and on Bun: seeded random 101 responses (valid and broken,
// split anywhere, frames glued behind) and frame sequences, valid then mutated, split at random points,
// checked against the reference model (test/support/hostile-run.ts).
// FUZZ_SEED and FUZZ_CONNECTIONS override the seed and the count; `npm run fuzz` runs many more.
import { readFileSync } from "node:fs";
import { fuzzSettings, heapAfterGc, HostileRun } from "../../support/hostile-run.js";
import type { HostileCase } from "../../support/hostile-peer.js";
import { afterAll, describe, expect, host, it, runtime } from "./harness.js";

const VECTORS = new URL("../../vectors/hostile-cases.json", import.meta.url).pathname;
const kept = (JSON.parse(readFileSync(VECTORS, "utf8")) as { cases: HostileCase[] }).cases.filter(
  (c) => c.role === "client",
);
const { seed, count } = fuzzSettings(1500);
// Connections before the heap baseline: engines, pools and caches are warm by then.
const warmup = Math.min(count, Math.max(20, Math.floor(count / 5)));

describe(`hostile server against the ${runtime} client`, () => {
  const run = new HostileRun(host);
  afterAll(() => run.close());

  it(`replays the ${kept.length} kept cases`, async () => {
    for (const [i, c] of kept.entries()) await run.run(c, `kept case ${i} (${c.note})`);
    expect(run.report()).toBe("");
  });

  it(
    `answers ${count} random connections as the model does (FUZZ_SEED=${seed})`,
    async () => {
      await run.fuzz("client", seed, warmup);
      const before = await heapAfterGc();
      await run.fuzz("client", seed, count - warmup, warmup);
      run.record(VECTORS);
      expect(run.report()).toBe("");
      // Every client gave its engine slot back.
      expect(await run.slotsInUse(run.serverCount)).toBe(run.serverCount);
      // The heap after a full collection stays within a bound of where it was after the warm-up (Bun's
      // conservative collector keeps up to ~100 MB more after thousands of clients, flat from there).
      const after = await heapAfterGc();
      if (process.env.FUZZ_HEAP) console.log(`heap ${before} -> ${after}`);
      if (before !== null && after !== null) expect(after - before).toBeLessThan(128 * 1024 * 1024);
    },
    Math.max(90_000, count * 50),
  );
});
