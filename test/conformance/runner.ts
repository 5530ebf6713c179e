// Runs one conformance case (cases.ts) against any echo server on 127.0.0.1:port, or on a WebSocket the
// caller opens (an HTTP/2 stream), and checks the replies: used for our Node server over TCP and over
// HTTP/2, the ws reference (server.test.ts) and the C host under WAMR (test/runtimes/wamr/conformance.test.ts).
import type { Duplex } from "node:stream";
import { expect } from "vitest";
import { RawClient } from "../runtimes/node/peers.js";
import { Op, type ConformanceCase, type Reply } from "./cases.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run one case against the echo server on `port` (or on the WebSocket `port` opens): what came back,
 * normalized like `Reply`, and whether the server ended the transport (TCP, or the stream).
 */
export async function run(
  port: number | (() => Promise<RawClient<Duplex>>),
  test: ConformanceCase,
): Promise<{ replies: Reply[]; tcpClosed: boolean }> {
  const raw = typeof port === "number" ? await RawClient.open(port) : await port();
  try {
    // An immediate close goes out in the same write as the rest ("all sent in one chop").
    const pieces = test.immediateClose ? [Buffer.concat(test.send())] : test.send();
    // A final close waits for the replies before it, unless the case sends it at once.
    const last = pieces.at(-1)!;
    const deferred =
      !test.immediateClose && test.expect.length > 1 && last[0] === (0x80 | Op.Close)
        ? pieces.pop()
        : undefined;
    for (const piece of pieces) {
      raw.write(piece);
      if (test.pause) await sleep(test.pause);
    }
    const replies: Reply[] = [];
    let parts: Buffer[] = [];
    let messageOpcode = 0;
    while (replies.length < test.expect.length) {
      if (deferred && replies.length === test.expect.length - 1) raw.write(deferred);
      const frame = await raw.readFrame(10_000);
      if (frame.opcode === Op.Close) {
        const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        replies.push({ close: code, reason: frame.payload.subarray(2).toString() });
        break;
      }
      if (frame.opcode === Op.Pong) {
        replies.push({ pong: frame.payload });
        continue;
      }
      if (frame.opcode !== Op.Continuation) messageOpcode = frame.opcode;
      parts.push(frame.payload);
      if (!frame.fin) continue;
      const data = Buffer.concat(parts);
      parts = [];
      replies.push(messageOpcode === Op.Text ? { text: data.toString() } : { binary: data });
    }
    const final = test.expect.at(-1);
    const tcpClosed = final && "close" in final ? await raw.closed(5000) : true;
    return { replies, tcpClosed };
  } finally {
    raw.destroy();
  }
}

/** Compare with `expect` semantics: close codes may list alternatives, reasons only when given. */
export function check(test: ConformanceCase, result: { replies: Reply[]; tcpClosed: boolean }): void {
  const normalized = result.replies.map((reply, i) => {
    const wanted = test.expect[i];
    if (!("close" in reply) || !wanted || !("close" in wanted)) return reply;
    const codes = Array.isArray(wanted.close) ? wanted.close : [wanted.close];
    return {
      close: codes.includes(reply.close as number) ? wanted.close : reply.close,
      ...(wanted.reason !== undefined ? { reason: reply.reason } : {}),
    };
  });
  const summarize = (r: Reply) =>
    "text" in r && r.text.length > 64
      ? { text: `${r.text.length} chars`, hash: r.text.slice(0, 8) + r.text.slice(-8) }
      : "binary" in r
        ? { binary: `${r.binary.length} bytes`, sum: r.binary.reduce((s, b) => (s * 31 + b) >>> 0, 0) }
        : r;
  expect(normalized.map(summarize)).toEqual(test.expect.map(summarize));
  expect(result.tcpClosed).toBe(true);
}
