// An Autobahn-style case table for a server under test that echoes every message: the bytes a client sends
// and what must come back (messages, pongs, the close code), numbered like Autobahn's sections.
import { closePayload, frame } from "../runtimes/node/peers.js";

export const Op = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** What the server must send back, in order. After a close, the server must also end TCP. */
export type Reply =
  { text: string } | { binary: Buffer } | { pong: Buffer } | { close: number | number[]; reason?: string };

/** One case: `send` is written piece by piece (each element one write, `pause` ms apart when set). */
export interface ConformanceCase {
  id: string;
  title: string;
  send: () => Buffer[];
  expect: Reply[];
  /** Ms between writes (default 0: all at once). */
  pause?: number;
  /** Only for servers with this maxPayload (the limit cases). */
  maxPayload?: number;
  /** Not checked against the `ws` reference (our documented choice differs, or ws has no such option). */
  oursOnly?: string;
  /**
   * Write a final close frame together with the rest (Autobahn 7.1.1 style). By default a final close
   * waits until the replies before it arrived, as Autobahn's cases close after their exchange.
   */
  immediateClose?: boolean;
  /** A known failure of our server, with the reason (run as an expected failure until fixed). */
  knownIssue?: string;
}

const text = (s: string) => frame(Op.Text, s);
const binary = (b: Buffer) => frame(Op.Binary, b);
const close = (code?: number, reason = "") =>
  frame(Op.Close, code === undefined ? "" : closePayload(code, reason));
const bytes = (n: number, fill = 0xfe) => Buffer.alloc(n, fill);

/** Split `data` into writes of `size` bytes. */
function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

const cases: ConformanceCase[] = [];
const add = (c: ConformanceCase) => cases.push(c);

// 1.x framing: payload lengths around the 7-bit, 16-bit and 64-bit length encodings.
[0, 125, 126, 127, 128, 65535, 65536].forEach((n, i) => {
  add({
    id: `1.1.${i + 1}`,
    title: `text, ${n} bytes`,
    send: () => [text("*".repeat(n)), close(1000)],
    expect: [{ text: "*".repeat(n) }, { close: 1000 }],
  });
  add({
    id: `1.2.${i + 1}`,
    title: `binary, ${n} bytes`,
    send: () => [binary(bytes(n)), close(1000)],
    expect: [{ binary: bytes(n) }, { close: 1000 }],
  });
});
add({
  id: "1.1.8",
  title: "text 65536 bytes written in 997-byte chunks",
  send: () => [...chunks(text("*".repeat(65536)), 997), close(1000)],
  expect: [{ text: "*".repeat(65536) }, { close: 1000 }],
});
add({
  id: "1.2.8",
  title: "binary 65536 bytes written byte-chunked (97)",
  send: () => [...chunks(binary(bytes(65536)), 97), close(1000)],
  expect: [{ binary: bytes(65536) }, { close: 1000 }],
});

// 2.x ping/pong.
add({
  id: "2.1",
  title: "ping without payload",
  send: () => [frame(Op.Ping), close(1000)],
  expect: [{ pong: Buffer.alloc(0) }, { close: 1000 }],
});
add({
  id: "2.2",
  title: "ping with a small text payload",
  send: () => [frame(Op.Ping, "Hello, world!"), close(1000)],
  expect: [{ pong: Buffer.from("Hello, world!") }, { close: 1000 }],
});
add({
  id: "2.3",
  title: "ping with binary payload",
  send: () => [frame(Op.Ping, Buffer.from([0, 255, 254, 253, 252, 251, 0, 255])), close(1000)],
  expect: [{ pong: Buffer.from([0, 255, 254, 253, 252, 251, 0, 255]) }, { close: 1000 }],
});
add({
  id: "2.4",
  title: "ping with 125-byte payload",
  send: () => [frame(Op.Ping, bytes(125)), close(1000)],
  expect: [{ pong: bytes(125) }, { close: 1000 }],
});
add({
  id: "2.5",
  title: "ping with 126-byte payload fails 1002",
  send: () => [frame(Op.Ping, bytes(126))],
  expect: [{ close: 1002 }],
});
add({
  id: "2.6",
  title: "ping with 125-byte payload written byte by byte",
  send: () => [...chunks(frame(Op.Ping, bytes(125)), 1), close(1000)],
  expect: [{ pong: bytes(125) }, { close: 1000 }],
});
add({
  id: "2.7",
  title: "unsolicited pong is ignored",
  send: () => [frame(Op.Pong), close(1000)],
  expect: [{ close: 1000 }],
});
add({
  id: "2.8",
  title: "unsolicited pong with payload is ignored",
  send: () => [frame(Op.Pong, "unsolicited"), close(1000)],
  expect: [{ close: 1000 }],
});
add({
  id: "2.9",
  title: "unsolicited pong, then ping: only the ping is answered",
  send: () => [frame(Op.Pong, "a"), frame(Op.Ping, "b"), close(1000)],
  expect: [{ pong: Buffer.from("b") }, { close: 1000 }],
});
add({
  id: "2.10",
  title: "10 pings each answered, in order",
  send: () => [...Array.from({ length: 10 }, (_, i) => frame(Op.Ping, `p${i}`)), close(1000)],
  expect: [...Array.from({ length: 10 }, (_, i) => ({ pong: Buffer.from(`p${i}`) })), { close: 1000 }],
});

// 3.x reserved bits (no extension negotiated).
add({
  id: "3.1",
  title: "RSV1 on a text frame fails 1002",
  send: () => [frame(Op.Text, "Hello", { rsv: 4 })],
  expect: [{ close: 1002 }],
});
add({
  id: "3.2",
  title: "valid text, then RSV2 text: echo, then 1002",
  send: () => [text("Hello"), frame(Op.Text, "Hello", { rsv: 2 }), frame(Op.Ping, "x")],
  expect: [{ text: "Hello" }, { close: 1002 }],
});
add({
  id: "3.3",
  title: "RSV3 set, written slowly after a valid text",
  pause: 20,
  send: () => [text("Hello"), frame(Op.Text, "Hello", { rsv: 1 }), frame(Op.Ping, "x")],
  expect: [{ text: "Hello" }, { close: 1002 }],
});
add({
  id: "3.4",
  title: "RSV1|RSV2 on binary fails 1002",
  send: () => [frame(Op.Binary, bytes(8), { rsv: 6 })],
  expect: [{ close: 1002 }],
});
add({
  id: "3.5",
  title: "RSV1|RSV3 on ping fails 1002 (no pong)",
  send: () => [frame(Op.Ping, "x", { rsv: 5 })],
  expect: [{ close: 1002 }],
});
add({
  id: "3.6",
  title: "all RSV bits on close fails 1002",
  send: () => [frame(Op.Close, closePayload(1000), { rsv: 7 })],
  expect: [{ close: 1002 }],
});

// 4.x opcodes.
[3, 4, 5, 6, 7].forEach((opcode, i) => {
  add({
    id: `4.1.${i + 1}`,
    title: `reserved data opcode ${opcode} fails 1002`,
    send: () => [text("ok"), frame(opcode, "x"), frame(Op.Ping)],
    expect: [{ text: "ok" }, { close: 1002 }],
  });
});
[11, 12, 13, 14, 15].forEach((opcode, i) => {
  add({
    id: `4.2.${i + 1}`,
    title: `reserved control opcode ${opcode} fails 1002`,
    send: () => [text("ok"), frame(opcode, "x"), frame(Op.Ping)],
    expect: [{ text: "ok" }, { close: 1002 }],
  });
});

// 5.x fragmentation.
add({
  id: "5.1",
  title: "fragmented ping fails 1002",
  send: () => [frame(Op.Ping, "frag", { fin: false }), frame(Op.Continuation, "ment")],
  expect: [{ close: 1002 }],
});
add({
  id: "5.2",
  title: "fragmented pong fails 1002",
  send: () => [frame(Op.Pong, "frag", { fin: false }), frame(Op.Continuation, "ment")],
  expect: [{ close: 1002 }],
});
add({
  id: "5.3",
  title: "text in two fragments",
  send: () => [frame(Op.Text, "frag", { fin: false }), frame(Op.Continuation, "ment"), close(1000)],
  expect: [{ text: "fragment" }, { close: 1000 }],
});
add({
  id: "5.4",
  title: "text in two fragments written slowly",
  pause: 20,
  send: () => [frame(Op.Text, "frag", { fin: false }), frame(Op.Continuation, "ment"), close(1000)],
  expect: [{ text: "fragment" }, { close: 1000 }],
});
add({
  id: "5.5",
  title: "text in 1-byte fragments",
  send: () => [
    ...[..."fragmented"].map((c, i, all) =>
      frame(i === 0 ? Op.Text : Op.Continuation, c, { fin: i === all.length - 1 }),
    ),
    close(1000),
  ],
  expect: [{ text: "fragmented" }, { close: 1000 }],
});
add({
  id: "5.6",
  title: "ping between fragments is answered first",
  send: () => [
    frame(Op.Text, "frag", { fin: false }),
    frame(Op.Ping, "p"),
    frame(Op.Continuation, "ment"),
    close(1000),
  ],
  expect: [{ pong: Buffer.from("p") }, { text: "fragment" }, { close: 1000 }],
});
add({
  id: "5.7",
  title: "ping between fragments, written slowly",
  pause: 20,
  send: () => [
    frame(Op.Text, "frag", { fin: false }),
    frame(Op.Ping, "p"),
    frame(Op.Continuation, "ment"),
    close(1000),
  ],
  expect: [{ pong: Buffer.from("p") }, { text: "fragment" }, { close: 1000 }],
});
add({
  id: "5.8",
  title: "binary in fragments with empty fragments",
  send: () => [
    frame(Op.Binary, "", { fin: false }),
    frame(Op.Continuation, bytes(3), { fin: false }),
    frame(Op.Continuation, ""),
  ],
  expect: [{ binary: bytes(3) }],
});
add({
  id: "5.9",
  title: "continuation with no message fails 1002",
  send: () => [frame(Op.Continuation, "x")],
  expect: [{ close: 1002 }],
});
add({
  id: "5.10",
  title: "continuation (fin=0) with no message fails 1002",
  send: () => [frame(Op.Continuation, "x", { fin: false }), text("y")],
  expect: [{ close: 1002 }],
});
add({
  id: "5.15",
  immediateClose: true,
  title: "new text before the fragmented one ends fails 1002",
  send: () => [
    frame(Op.Text, "a", { fin: false }),
    frame(Op.Continuation, "b"),
    frame(Op.Text, "c", { fin: false }),
    frame(Op.Text, "d"),
  ],
  expect: [{ text: "ab" }, { close: 1002 }],
});
add({
  id: "5.18",
  title: "two text frames with fin=0 then fin=1 fails 1002",
  send: () => [frame(Op.Text, "a", { fin: false }), frame(Op.Text, "b")],
  expect: [{ close: 1002 }],
});
add({
  id: "5.20",
  title: "pings between fragments written one by one",
  pause: 10,
  send: () => [
    frame(Op.Text, "a", { fin: false }),
    frame(Op.Ping, "1"),
    frame(Op.Continuation, "b", { fin: false }),
    frame(Op.Ping, "2"),
    frame(Op.Continuation, "c"),
    close(1000),
  ],
  expect: [{ pong: Buffer.from("1") }, { pong: Buffer.from("2") }, { text: "abc" }, { close: 1000 }],
});

// 6.x UTF-8 handling, failing fast.
const kosme = Buffer.from("cebae1bdb9cf83cebcceb5", "hex");
add({
  id: "6.1.1",
  title: "empty text message",
  send: () => [text(""), close(1000)],
  expect: [{ text: "" }, { close: 1000 }],
});
add({
  id: "6.1.2",
  title: "empty text fragments",
  send: () => [
    frame(Op.Text, "", { fin: false }),
    frame(Op.Continuation, "", { fin: false }),
    frame(Op.Continuation, ""),
    close(1000),
  ],
  expect: [{ text: "" }, { close: 1000 }],
});
add({
  id: "6.2.1",
  title: "valid UTF-8 in one frame",
  send: () => [frame(Op.Text, kosme), close(1000)],
  expect: [{ text: kosme.toString() }, { close: 1000 }],
});
add({
  id: "6.2.2",
  title: "valid UTF-8 split inside a code point across fragments",
  send: () => [
    frame(Op.Text, kosme.subarray(0, 3), { fin: false }),
    frame(Op.Continuation, kosme.subarray(3)),
    close(1000),
  ],
  expect: [{ text: kosme.toString() }, { close: 1000 }],
});
add({
  id: "6.2.3",
  title: "valid UTF-8 in 1-byte fragments",
  send: () => [
    ...[...kosme].map((b, i) =>
      frame(i === 0 ? Op.Text : Op.Continuation, Buffer.from([b]), { fin: i === kosme.length - 1 }),
    ),
    close(1000),
  ],
  expect: [{ text: kosme.toString() }, { close: 1000 }],
});
add({
  id: "6.2.4",
  title: "4-byte sequences (U+1F600, U+10FFFF)",
  send: () => [text("😀\u{10ffff}"), close(1000)],
  expect: [{ text: "😀\u{10ffff}" }, { close: 1000 }],
});
const invalid: Array<[string, string]> = [
  ["6.3.1", "cebae1bdb9cf83cebcceb5eda080656469746564"], // UTF-16 surrogate
  ["6.3.2", "c0af"], // overlong "/"
  ["6.3.3", "e080af"], // overlong 3-byte
  ["6.3.4", "f4908080"], // > U+10FFFF
  ["6.3.5", "f888808080"], // 5-byte form
  ["6.3.6", "80"], // lone continuation
  ["6.3.7", "cebae1bd"], // truncated at the end of the message
  ["6.3.8", "fe"], // never valid
  ["6.3.9", "edbfbf"], // U+DFFF
];
for (const [id, hex] of invalid)
  add({
    id,
    title: `invalid UTF-8 ${hex} fails 1007`,
    send: () => [frame(Op.Text, Buffer.from(hex, "hex"))],
    expect: [{ close: 1007 }],
  });
add({
  id: "6.4.1",
  oursOnly: "ws validates UTF-8 per whole message, not fail-fast",
  title: "fail fast: a bad first fragment is refused before the message ends",
  send: () => [frame(Op.Text, Buffer.concat([kosme, Buffer.from("f4908080", "hex")]), { fin: false })],
  expect: [{ close: 1007 }],
});
add({
  id: "6.4.2",
  oursOnly: "ws validates UTF-8 per whole message, not fail-fast",
  title: "fail fast: a bad byte inside a long frame still being written",
  send: () => {
    const f = frame(Op.Text, Buffer.concat([Buffer.from("c0af", "hex"), Buffer.alloc(60000, 0x61)]));
    return [f.subarray(0, 100)];
  },
  expect: [{ close: 1007 }],
});
add({
  id: "6.4.3",
  title: "invalid UTF-8 across fragments fails 1007",
  send: () => [
    frame(Op.Text, Buffer.from("ce", "hex"), { fin: false }),
    frame(Op.Continuation, Buffer.from("41", "hex")),
  ],
  expect: [{ close: 1007 }],
});

// 7.x close handling.
add({
  id: "7.1.1",
  immediateClose: true,
  title: "text then close in one write: echo, then the close reply",
  send: () => [text("Hello"), close(1000)],
  expect: [{ text: "Hello" }, { close: 1000 }],
});
add({
  id: "7.1.1b",
  immediateClose: true,
  title: "65535-byte text then close in one write: echo, then the close reply",
  send: () => [text("*".repeat(65535)), close(1000)],
  expect: [{ text: "*".repeat(65535) }, { close: 1000 }],
});
add({
  id: "7.1.2",
  title: "a second close frame is not answered",
  send: () => [close(1000), close(1000)],
  expect: [{ close: 1000 }],
});
add({
  id: "7.1.3",
  title: "ping after close is not answered",
  send: () => [close(1000), frame(Op.Ping, "x")],
  expect: [{ close: 1000 }],
});
add({
  id: "7.1.4",
  title: "text after close is not echoed",
  send: () => [close(1000), text("after")],
  expect: [{ close: 1000 }],
});
add({
  id: "7.1.5",
  title: "fragment, close, then the rest: only the close reply",
  send: () => [frame(Op.Text, "a", { fin: false }), close(1000), frame(Op.Continuation, "b")],
  expect: [{ close: 1000 }],
});
add({
  id: "7.1.6",
  title: "large message then close: echo, then close",
  send: () => [text("*".repeat(256 * 1024)), close(1000)],
  expect: [{ text: "*".repeat(256 * 1024) }, { close: 1000 }],
});
add({
  id: "7.3.1",
  title: "close without payload gets an empty close",
  send: () => [close()],
  expect: [{ close: [1005] }],
});
add({
  id: "7.3.2",
  title: "close with a 1-byte payload fails 1002",
  send: () => [frame(Op.Close, Buffer.from([0x03]))],
  expect: [{ close: 1002 }],
});
add({
  id: "7.3.3",
  title: "close 1000 without reason",
  send: () => [close(1000)],
  expect: [{ close: 1000 }],
});
add({
  id: "7.3.4",
  title: "close with a reason",
  send: () => [close(1000, "Hello World!")],
  expect: [{ close: 1000, reason: "Hello World!" }],
});
add({
  id: "7.3.5",
  title: "close with a 123-byte reason",
  send: () => [close(1000, "*".repeat(123))],
  expect: [{ close: 1000, reason: "*".repeat(123) }],
});
add({
  id: "7.3.6",
  title: "close with a 124-byte reason (126-byte payload) fails 1002",
  send: () => [close(1000, "*".repeat(124))],
  expect: [{ close: 1002 }],
});
add({
  id: "7.5.1",
  title: "close reason with invalid UTF-8 fails 1007",
  send: () => [
    frame(
      Op.Close,
      Buffer.concat([closePayload(1000), Buffer.from("cebae1bdb9cf83cebcceb5eda080656469746564", "hex")]),
    ),
  ],
  expect: [{ close: 1007 }],
});
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999].forEach(
  (code, i) => {
    add({
      id: `7.7.${i + 1}`,
      title: `valid close code ${code} is echoed`,
      send: () => [close(code)],
      expect: [{ close: code }],
    });
  },
);
[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].forEach((code, i) => {
  add({
    id: `7.9.${i + 1}`,
    title: `invalid close code ${code} fails 1002`,
    send: () => [close(code)],
    expect: [{ close: 1002 }],
  });
});

// 9.x limits and performance-lite (counts, never times).
[64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024].forEach((n, i) => {
  add({
    id: `9.1.${i + 1}`,
    title: `text message of ${n} bytes`,
    send: () => [text("x".repeat(n)), close(1000)],
    expect: [{ text: "x".repeat(n) }, { close: 1000 }],
  });
  add({
    id: `9.2.${i + 1}`,
    title: `binary message of ${n} bytes`,
    send: () => [binary(bytes(n)), close(1000)],
    expect: [{ binary: bytes(n) }, { close: 1000 }],
  });
});
[64, 256, 1024, 4096, 16384, 65536].forEach((size, i) => {
  const message = bytes(256 * 1024, 0x55);
  add({
    id: `9.3.${i + 1}`,
    title: `256 KiB binary in ${size}-byte fragments`,
    send: () => [
      ...chunks(message, size).map((part, k, all) =>
        frame(k === 0 ? Op.Binary : Op.Continuation, part, { fin: k === all.length - 1 }),
      ),
      close(1000),
    ],
    expect: [{ binary: message }, { close: 1000 }],
  });
});
add({
  id: "9.4.1",
  title:
    "4 MiB binary in 64-byte fragments (65,536 frames, as Autobahn's 9.4.1): under the default maxFragments",
  send: () => [
    Buffer.concat(
      chunks(bytes(4 * 1024 * 1024, 0x33), 64).map((part, k, all) =>
        frame(k === 0 ? Op.Binary : Op.Continuation, part, { fin: k === all.length - 1 }),
      ),
    ),
    close(1000),
  ],
  expect: [{ binary: bytes(4 * 1024 * 1024, 0x33) }, { close: 1000 }],
  oursOnly: "ws 8.23's default maxFragments (16,384) fails this message with 1008",
});
add({
  id: "9.7.1",
  title: "1,000 small text messages round-trip in order",
  send: () => [Buffer.concat(Array.from({ length: 1000 }, (_, i) => text(`m${i}`))), close(1000)],
  expect: [...Array.from({ length: 1000 }, (_, i) => ({ text: `m${i}` })), { close: 1000 }],
});
add({
  id: "9.8.1",
  title: "message past maxPayload fails 1009",
  maxPayload: 1000,
  send: () => [binary(bytes(1001))],
  expect: [{ close: 1009 }],
});
add({
  id: "9.8.2",
  title: "fragments summing past maxPayload fail 1009",
  maxPayload: 1000,
  send: () => [frame(Op.Binary, bytes(600), { fin: false }), frame(Op.Continuation, bytes(600))],
  expect: [{ close: 1009 }],
});
add({
  id: "9.8.3",
  title: "a message of exactly maxPayload is accepted",
  maxPayload: 1000,
  send: () => [binary(bytes(1000)), close(1000)],
  expect: [{ binary: bytes(1000) }, { close: 1000 }],
});
add({
  id: "9.8.4",
  title: "a header announcing more than maxPayload fails 1009 before the payload",
  maxPayload: 1000,
  send: () => [frame(Op.Binary, bytes(0), { length: 1 << 30 })],
  expect: [{ close: 1009 }],
});

export { cases };
