// Exact delivery on Node and Bun alike: any text (a leading U+FEFF, NUL, U+FFFF, 4-byte characters, text
// cut inside a character across frames and across reads) and any binary payload arrives unchanged and in
// order, on the server and on the client, through fragmenting and through permessage-deflate.
import * as net from "node:net";
import fc from "fast-check";
import { frame, RawClient, switchingProtocols, within } from "../../support/raw-client.js";
import { describe, expect, it, listen, nextMessage, openClient, runtime, type WebSocket } from "./harness.js";
import { waitFor as until } from "../../support/client-events.js";

type Message = { text: string } | { binary: Uint8Array };

/** Text that stresses decoders: characters of every UTF-8 length, and the ones decoders like to change. */
const tricky = fc.constantFrom(
  "\uFEFF",
  "\u0000",
  "\uFFFF",
  "\uFFFE",
  "\u{1F600}",
  "\u{10FFFF}",
  "é",
  "€",
  "a",
);
const text = fc
  .array(fc.oneof(tricky, fc.string({ unit: "binary", maxLength: 40 })), { maxLength: 40 })
  .map((parts) => parts.join(""));
const message: fc.Arbitrary<Message> = fc.oneof(
  text.map((t) => ({ text: t })),
  fc.uint8Array({ maxLength: 3000 }).map((b) => ({ binary: b })),
  fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }).map((b) => ({ binary: b })),
);

const bytesOf = (m: Message): Buffer => ("text" in m ? Buffer.from(m.text, "utf8") : Buffer.from(m.binary));

/** The messages a client receives, in order, as comparable values. */
function received(ws: WebSocket): Message[] {
  const got: Message[] = [];
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data as string | ArrayBuffer;
    got.push(typeof data === "string" ? { text: data } : { binary: new Uint8Array(data) });
  });
  return got;
}

const same = (a: Message[], b: Message[]) =>
  expect(a.map((m) => ("text" in m ? m : { binary: Buffer.from(m.binary).toString("hex") }))).toEqual(
    b.map((m) => ("text" in m ? m : { binary: Buffer.from(m.binary).toString("hex") })),
  );

describe(`exact delivery on ${runtime}`, () => {
  for (const deflate of [false, true]) {
    it(`client → server → client, fragmented at random sizes${deflate ? ", permessage-deflate" : ""}`, async () => {
      const { wss, url } = await listen({ perMessageDeflate: deflate ? { threshold: 0 } : false });
      const serverGot: Buffer[] = [];
      let fragmentSize = 0;
      wss.on("connection", (ws) =>
        ws.on("message", (data, isBinary) => {
          serverGot.push(Buffer.from(data as Uint8Array));
          ws.send(data as Uint8Array, { binary: isBinary, fragmentSize });
        }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(message, { minLength: 1, maxLength: 6 }),
          fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 5000 })),
          fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 5000 })),
          async (messages, clientFragment, serverFragment) => {
            fragmentSize = serverFragment;
            serverGot.length = 0;
            const ws = await openClient(url, [], {
              maxFragmentSize: clientFragment,
              perMessageDeflate: deflate,
            });
            expect(ws.extensions.includes("permessage-deflate")).toBe(deflate);
            const got = received(ws);
            for (const m of messages) ws.send("text" in m ? m.text : m.binary);
            await until(() => got.length === messages.length, "echoes");
            expect(serverGot.map((b) => b.toString("hex"))).toEqual(
              messages.map((m) => bytesOf(m).toString("hex")),
            );
            same(got, messages);
            ws.close();
          },
        ),
        { numRuns: 25 },
      );
      await wss.close();
    });
  }

  it("the server delivers text cut inside characters across frames and across reads", async () => {
    const { wss, port } = await listen();
    const got: string[] = [];
    wss.on("connection", (ws) =>
      ws.on("message", (data) => got.push(Buffer.from(data as Uint8Array).toString())),
    );
    const raw = await RawClient.open(port);
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (t, frameCuts, readCuts) => {
          const wire = fragmentFrames(Buffer.from(t, "utf8"), frameCuts, true);
          for (const piece of cut(wire, readCuts)) {
            raw.write(piece);
            await new Promise((resolve) => setImmediate(resolve));
          }
          await until(() => got.length === 1, "message");
          expect(got.pop()).toBe(t);
        },
      ),
      { numRuns: 60 },
    );
    raw.destroy();
    await wss.close();
  });

  it("the client delivers text cut inside characters across frames and across reads", async () => {
    let peer: net.Socket | null = null;
    const server = net.createServer((socket) => {
      socket.once("data", (head) => {
        socket.write(switchingProtocols(head));
        peer = socket;
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const ws = await openClient(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    await until(() => peer !== null, "the peer socket");
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (t, frameCuts, readCuts) => {
          const next = within(nextMessage(ws), 5000, "message");
          for (const piece of cut(fragmentFrames(Buffer.from(t, "utf8"), frameCuts, false), readCuts)) {
            peer!.write(piece);
            await new Promise((resolve) => setImmediate(resolve));
          }
          expect(await next).toBe(t);
        },
      ),
      { numRuns: 60 },
    );
    ws.close();
    peer!.destroy();
    server.close();
  });
});

/** A text message as frames cut at `cuts` (fractions of the byte length, so inside characters too). */
function fragmentFrames(bytes: Buffer, cuts: number[], mask: boolean): Buffer {
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...offsets.filter((o) => o > 0 && o < bytes.length), bytes.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length || frames.length === 0; i++) {
    const [start, end] = [bounds[i] ?? 0, bounds[i + 1] ?? bytes.length];
    const last = i + 2 >= bounds.length;
    frames.push(frame(i === 0 ? 1 : 0, bytes.subarray(start, end), { fin: last, mask }));
  }
  return Buffer.concat(frames);
}

/** `bytes` split into writes at `cuts`. */
function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const offsets = [...new Set(cuts.map((c) => c % bytes.length))].filter((o) => o > 0).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const o of offsets) {
    pieces.push(bytes.subarray(at, o));
    at = o;
  }
  pieces.push(bytes.subarray(at));
  return pieces;
}
