// The project's conformance suite (test/conformance/cases.ts) against the C echo server on every target of
// host.ts, every case strict, as it runs against our Node server: two servers, the main one and one with
// maxPayload 1000.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cases } from "../../conformance/cases.js";
import { check, run } from "../../conformance/runner.js";
import { buildHost, startServer, takeSanitizerReports, targets, type Server } from "./host.js";

for (const t of targets)
  describe(`conformance: the C echo server [${t.name}]`, () => {
    let main: Server;
    let limited: Server;

    beforeAll(async () => {
      await buildHost(t);
      [main, limited] = await Promise.all([
        startServer(t, ["--max-message", String(64 * 1024 * 1024)]),
        startServer(t, ["--max-message", "1000"]),
      ]);
    }, 180_000);

    afterEach(() => expect(takeSanitizerReports()).toEqual([]));

    afterAll(async () => {
      // Exit 0 also means the server stopped cleanly with every client released (and LeakSanitizer found none).
      const codes = await Promise.all([main, limited].filter(Boolean).map((server) => server.stop()));
      expect(codes.every((code) => code === 0)).toBe(true);
      expect(takeSanitizerReports()).toEqual([]);
    });

    for (const test of cases)
      it(`${test.id} ${test.title}`, async () => {
        const server = test.maxPayload ? limited : main;
        check(test, await run(server.port, test));
      });
  });
