// permessage-deflate interop with Debian's python3-websockets (which compresses by default), both
// directions, over the parameter combinations it supports; driven by test/interop/python_deflate_peer.py.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { PerMessageDeflateOptions } from "../../bindings/protocol/extensions.js";
import type { ServerConnection } from "../../runtimes/node/index.js";
import { echoServer, nextEvent, nextMessage, openClient, within } from "../runtimes/node/peers.js";
import { jsonText } from "../support/json-text.js";
import { PYTHON, pythonModuleMissing } from "../support/missing.js";

const PEER = fileURLToPath(new URL("./python_deflate_peer.py", import.meta.url));

const missing = pythonModuleMissing("websockets", "python3-websockets");

type PythonParams = "default" | Record<string, boolean | number>;

/** What python's factories take; "default" is websockets' own (window bits 12, memLevel 5). */
const PYTHON_COMBOS: PythonParams[] = [
  "default",
  {},
  { server_no_context_takeover: true },
  { client_no_context_takeover: true },
  { server_no_context_takeover: true, client_no_context_takeover: true },
  { server_max_window_bits: 9 },
  { server_max_window_bits: 11 },
  { client_max_window_bits: 9 },
  { client_max_window_bits: 13 },
];

const OUR_COMBOS: PerMessageDeflateOptions[] = [
  {},
  { serverNoContextTakeover: true, clientNoContextTakeover: true },
  { serverMaxWindowBits: 11, clientMaxWindowBits: 10 },
];

const MESSAGES: Array<string | Buffer> = [
  "",
  jsonText(100, 0),
  jsonText(1024, 1),
  jsonText(1024, 2),
  jsonText(65536, 3),
  Buffer.from(jsonText(300_000, 4)),
  "é".repeat(5000),
];

describe.skipIf(missing)("python-websockets server ↔ our client, permessage-deflate", () => {
  for (const python of PYTHON_COMBOS)
    for (const ours of OUR_COMBOS)
      it(`python ${JSON.stringify(python)}, ours ${JSON.stringify(ours)}`, async () => {
        const child = spawn(PYTHON, [PEER, "server", JSON.stringify(python)], {
          stdio: ["pipe", "pipe", "inherit"],
        });
        try {
          const [line] = (await within(once(child.stdout!, "data"), 10_000, "python port")) as [Buffer];
          const url = `ws://127.0.0.1:${Number(String(line).trim())}`;
          const ws = await openClient(url, undefined, { perMessageDeflate: { ...ours, threshold: 0 } });
          expect(ws.extensions).toMatch(/^permessage-deflate/);
          ws.send("?extensions");
          expect(await nextMessage(ws)).toBe(ws.extensions);
          for (const message of MESSAGES) {
            ws.send(message);
            const back = await nextMessage(ws);
            if (typeof message === "string") expect(back).toBe(message);
            else expect((back as Buffer).equals(message)).toBe(true);
          }
          ws.close(1000);
          expect((await nextEvent<CloseEvent>(ws, "close")).wasClean).toBe(true);
        } finally {
          child.stdin!.end();
          await within(once(child, "exit"), 5000, "python exits").catch(() => child.kill());
        }
      });
});

describe.skipIf(missing)("python-websockets client ↔ our server, permessage-deflate", () => {
  // server_max_window_bits=8: our server accepts and sends uncompressed (zlib cannot raw-deflate with 8
  // bits); python's own zlib refuses to compress with 8 bits, so client_max_window_bits=8 is not tried.
  for (const python of [...PYTHON_COMBOS, { server_max_window_bits: 8 }])
    for (const ours of OUR_COMBOS)
      it(`python ${JSON.stringify(python)}, ours ${JSON.stringify(ours)}`, async () => {
        const { wss, url } = await echoServer({
          maxPayload: 64 << 20,
          perMessageDeflate: { ...ours, threshold: 0 },
        });
        const opened = new Promise<ServerConnection>((resolve) => wss.once("connection", resolve));
        const child = spawn(PYTHON, [PEER, "client", `${url}/`, JSON.stringify(python)], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        const [code] = (await within(once(child, "exit"), 60_000, "python client")) as [number];
        expect(code).toBe(0);
        const results = JSON.parse(out) as { echoes: boolean[]; extensions: string; close: number };
        const conn = await opened;
        expect(results.extensions).toBe(conn.extensions);
        expect(results.extensions).toMatch(/^permessage-deflate/);
        expect(results.echoes.every(Boolean)).toBe(true);
        expect(results.echoes).toHaveLength(11);
        expect(results.close).toBe(1000);
        // Compressed both ways: ~1.4 MiB of mostly JSON payloads each way.
        expect(conn.socket.bytesRead).toBeLessThan(700_000);
        await wss.close();
      });
});
