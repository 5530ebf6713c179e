// The project's conformance suite (test/conformance/cases.ts) against the C echo server under WAMR, every
// case strict, as it runs against our Node server: two servers, the main one and one with maxPayload 1000.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cases } from "../../conformance/cases.js";
import { check, run } from "../../conformance/runner.js";
import { buildHost, skipReason, startServer, wamrRoot, type Server } from "./host.js";

if (!wamrRoot) console.log(skipReason);

describe.skipIf(!wamrRoot)("conformance: the C echo server under WAMR", () => {
  let main: Server;
  let limited: Server;

  beforeAll(async () => {
    await buildHost();
    [main, limited] = await Promise.all([
      startServer(["--max-message", String(64 * 1024 * 1024)]),
      startServer(["--max-message", "1000"]),
    ]);
  }, 180_000);

  afterAll(async () => {
    // Exit 0 also means the server stopped cleanly with every client released.
    const codes = await Promise.all([main, limited].filter(Boolean).map((server) => server.stop()));
    expect(codes.every((code) => code === 0)).toBe(true);
  });

  for (const test of cases)
    it(`${test.id} ${test.title}`, async () => {
      const server = test.maxPayload ? limited : main;
      check(test, await run(server.port, test));
    });
});
