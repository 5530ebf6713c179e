// Writes test/vectors/frames.json: byte-level frame vectors shared by every engine build and host.
// Run with `npx tsx scripts/make-frame-vectors.ts`; the JSON is committed, this script documents it.
import { writeFileSync } from "node:fs";

type Segment = string | { hex: string; repeat: number };
type Expected =
  | { message: "text" | "binary"; payload: Segment[] }
  | { ping: string }
  | { pong: string }
  | { close: number; reason: string }
  | { error: number; rule: string }
  | { closed: true };
interface Vector {
  name: string;
  role: "server" | "client";
  maxPayload?: number;
  input: Segment[];
  events: Expected[];
  /** Replies the engine queues (server role: unmasked, so exact). */
  reply?: string;
}

const KEY = [0x37, 0xfa, 0x21, 0x3d];
const hex = (bytes: number[] | Uint8Array) => Buffer.from(bytes).toString("hex");
const text = (s: string) => hex(Buffer.from(s, "utf8"));

/** One frame as hex: byte0 is FIN|RSV|opcode; masked frames use the RFC's example key. */
function frame(
  byte0: number,
  payload: number[] | Uint8Array,
  masked: boolean,
  lengthForm?: 7 | 16 | 64,
): string {
  const bytes = [byte0];
  const n = payload.length;
  const form = lengthForm ?? (n < 126 ? 7 : n <= 0xffff ? 16 : 64);
  const m = masked ? 0x80 : 0;
  if (form === 7) bytes.push(m | n);
  else if (form === 16) bytes.push(m | 126, n >> 8, n & 255);
  else bytes.push(m | 127, 0, 0, 0, 0, (n / 2 ** 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
  if (masked) bytes.push(...KEY);
  const body = Array.from(payload, (b, i) => (masked ? b ^ KEY[i % 4] : b));
  return hex(bytes) + hex(body);
}
const utf8 = (s: string) => Array.from(Buffer.from(s, "utf8"));
const client = (byte0: number, payload: number[]) => frame(byte0, payload, true);
const fill = (byte: number, n: number) => new Array<number>(n).fill(byte);
const closePayload = (code: number, reason = "") => [code >> 8, code & 255, ...utf8(reason)];

const vectors: Vector[] = [];
const add = (v: Vector) => vectors.push({ ...v, input: v.input.flatMap(compress) });

/** Keep the JSON small: a long hex run with a 4-byte period becomes a repeat segment. */
function compress(segment: Segment): Segment[] {
  if (typeof segment !== "string" || segment.length < 512) return [segment];
  for (let start = 0; start < 40; start += 2) {
    const unit = segment.slice(start, start + 8);
    let end = start;
    while (segment.startsWith(unit, end)) end += 8;
    const repeat = (end - start) / 8;
    if (repeat >= 32)
      return [segment.slice(0, start), { hex: unit, repeat }, ...compress(segment.slice(end))].filter(
        (s) => s !== "",
      );
  }
  return [segment];
}

// RFC 6455 §5.7 examples, byte for byte.
add({
  name: "rfc 5.7 single-frame unmasked text",
  role: "client",
  input: ["810548656c6c6f"],
  events: [{ message: "text", payload: [text("Hello")] }],
});
add({
  name: "rfc 5.7 single-frame masked text",
  role: "server",
  input: ["818537fa213d7f9f4d5158"],
  events: [{ message: "text", payload: [text("Hello")] }],
});
add({
  name: "rfc 5.7 fragmented unmasked text",
  role: "client",
  input: ["010348656c", "80026c6f"],
  events: [{ message: "text", payload: [text("Hello")] }],
});
add({
  name: "rfc 5.7 unmasked ping",
  role: "client",
  input: ["890548656c6c6f"],
  events: [{ ping: text("Hello") }],
});
add({
  name: "rfc 5.7 masked pong",
  role: "server",
  input: ["8a8537fa213d7f9f4d5158"],
  events: [{ pong: text("Hello") }],
});
add({
  name: "rfc 5.7 256-byte binary, 16-bit length",
  role: "client",
  input: ["827e0100", { hex: "aa", repeat: 256 }],
  events: [{ message: "binary", payload: [{ hex: "aa", repeat: 256 }] }],
});
add({
  name: "rfc 5.7 64KiB binary, 64-bit length",
  role: "client",
  input: ["827f0000000000010000", { hex: "bb", repeat: 65536 }],
  events: [{ message: "binary", payload: [{ hex: "bb", repeat: 65536 }] }],
});

// Every length boundary, both opcodes, masked client frames at a server.
for (const n of [0, 1, 125, 126, 127, 65535, 65536]) {
  add({
    name: `binary length ${n}`,
    role: "server",
    input: [frame(0x82, fill(0x5a, n), true)],
    events: [{ message: "binary", payload: [{ hex: "5a", repeat: n }] }],
  });
  add({
    name: `text length ${n}`,
    role: "server",
    input: [frame(0x81, fill(0x61, n), true)],
    events: [{ message: "text", payload: [{ hex: "61", repeat: n }] }],
  });
}
add({
  name: "non-minimal 16-bit length form accepted",
  role: "server",
  input: [frame(0x82, [1, 2, 3], true, 16)],
  events: [{ message: "binary", payload: ["010203"] }],
});
add({
  name: "non-minimal 64-bit length form accepted",
  role: "server",
  input: [frame(0x82, [1, 2, 3], true, 64)],
  events: [{ message: "binary", payload: ["010203"] }],
});

// Messages, fragments and control frames.
add({
  name: "empty text message",
  role: "server",
  input: [client(0x81, [])],
  events: [{ message: "text", payload: [] }],
});
add({
  name: "fragmented binary with empty fragments",
  role: "server",
  input: [client(0x02, []), client(0x00, [1]), client(0x00, []), client(0x80, [2])],
  events: [{ message: "binary", payload: ["0102"] }],
});
add({
  name: "ping between fragments",
  role: "server",
  input: [client(0x01, utf8("ab")), client(0x89, utf8("p")), client(0x80, utf8("cd"))],
  events: [{ ping: text("p") }, { message: "text", payload: [text("abcd")] }],
  reply: "8a0170",
});
add({
  name: "several frames in one buffer",
  role: "server",
  input: [client(0x81, utf8("one")) + client(0x82, [2]) + client(0x81, utf8("three"))],
  events: [
    { message: "text", payload: [text("one")] },
    { message: "binary", payload: ["02"] },
    { message: "text", payload: [text("three")] },
  ],
});
add({
  name: "ping is answered with a pong",
  role: "server",
  input: [client(0x89, utf8("Hello"))],
  events: [{ ping: text("Hello") }],
  reply: "8a0548656c6c6f",
});
add({ name: "empty ping", role: "server", input: [client(0x89, [])], events: [{ ping: "" }], reply: "8a00" });
add({
  name: "125-byte ping",
  role: "server",
  input: [client(0x89, fill(0x70, 125))],
  events: [{ ping: hex(fill(0x70, 125)) }],
  reply: "8a7d" + hex(fill(0x70, 125)),
});
add({
  name: "text across fragments split inside a character",
  role: "server",
  input: [client(0x01, [0xce]), client(0x80, [0xba, 0x61])],
  events: [{ message: "text", payload: ["ceba61"] }],
});
add({
  name: "4-byte character split over three fragments",
  role: "server",
  input: [client(0x01, [0xf0, 0x9f]), client(0x00, [0x98]), client(0x80, [0x80])],
  events: [{ message: "text", payload: ["f09f9880"] }],
});

// Close handshake.
add({
  name: "close 1000 with reason is echoed",
  role: "server",
  input: [client(0x88, closePayload(1000, "bye"))],
  events: [{ close: 1000, reason: "bye" }, { closed: true }],
  reply: "880503e8" + text("bye"),
});
add({
  name: "empty close gives 1005 and an empty reply",
  role: "server",
  input: [client(0x88, [])],
  events: [{ close: 1005, reason: "" }, { closed: true }],
  reply: "8800",
});
for (const code of [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
])
  add({
    name: `close code ${code} is valid`,
    role: "server",
    input: [client(0x88, closePayload(code))],
    events: [{ close: code, reason: "" }, { closed: true }],
    reply: "8802" + hex([code >> 8, code & 255]),
  });
add({
  name: "input after close is ignored",
  role: "server",
  input: [client(0x88, closePayload(1000)) + client(0x81, utf8("late"))],
  events: [{ close: 1000, reason: "" }, { closed: true }],
  reply: "880203e8",
});
add({
  name: "client receives an unmasked close",
  role: "client",
  input: ["880203e9"],
  events: [{ close: 1001, reason: "" }, { closed: true }],
});

// Every rule with its close code.
const fails = (
  name: string,
  input: string[],
  code: number,
  rule: string,
  events: Expected[] = [],
  role: "server" | "client" = "server",
  maxPayload?: number,
) =>
  add({
    name,
    role,
    maxPayload,
    input,
    events: [...events, { error: code, rule }],
    reply: role === "server" ? "8802" + hex([code >> 8, code & 255]) : undefined,
  });
for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf])
  fails(`reserved opcode 0x${op.toString(16)}`, [client(0x80 | op, [])], 1002, "ReservedOpcode");
for (const [bit, label] of [
  [0x40, "RSV1"],
  [0x20, "RSV2"],
  [0x10, "RSV3"],
] as const) {
  const rule = bit === 0x40 ? "UnexpectedRsv1" : "ReservedBits";
  fails(`${label} without an extension`, [client(0x81 | bit, utf8("x"))], 1002, rule);
  fails(`${label} on a ping`, [client(0x89 | bit, [])], 1002, rule);
}
fails("ping longer than 125 bytes", [frame(0x89, fill(1, 126), true)], 1002, "ControlTooLong");
fails(
  "close longer than 125 bytes",
  [frame(0x88, [3, 232, ...fill(0x61, 124)], true)],
  1002,
  "ControlTooLong",
);
fails(
  "ping with a 16-bit length of 125 (length byte 126)",
  [frame(0x89, fill(1, 125), true, 16)],
  1002,
  "ControlTooLong",
);
fails("fragmented ping", [client(0x09, [])], 1002, "ControlFragmented");
fails("fragmented close", [client(0x08, [])], 1002, "ControlFragmented");
fails("continuation without a started message", [client(0x80, utf8("x"))], 1002, "UnexpectedContinuation");
fails(
  "continuation after a finished message",
  [client(0x81, utf8("a")), client(0x80, utf8("b"))],
  1002,
  "UnexpectedContinuation",
  [{ message: "text", payload: [text("a")] }],
);
fails(
  "text frame inside a fragmented message",
  [client(0x01, utf8("a")), client(0x81, utf8("b"))],
  1002,
  "ExpectedContinuation",
);
fails(
  "binary frame inside a fragmented message",
  [client(0x02, [1]), client(0x82, [2])],
  1002,
  "ExpectedContinuation",
);
fails("unmasked frame at a server", [frame(0x81, utf8("hi"), false)], 1002, "UnmaskedClientFrame");
fails("masked frame at a client", [frame(0x81, utf8("hi"), true)], 1002, "MaskedServerFrame", [], "client");
fails("64-bit length with the top bit set", ["82ff8000000000000000" + hex(KEY)], 1002, "LengthTopBit");
fails("invalid UTF-8 in a text frame", [client(0x81, [0x61, 0xff, 0x62])], 1007, "InvalidUtf8");
fails("overlong encoding", [client(0x81, [0xc0, 0x80])], 1007, "InvalidUtf8");
fails("UTF-16 surrogate", [client(0x81, [0xed, 0xa0, 0x80])], 1007, "InvalidUtf8");
fails("code point above U+10FFFF", [client(0x81, [0xf4, 0x90, 0x80, 0x80])], 1007, "InvalidUtf8");
fails("text ends inside a character", [client(0x81, [0x61, 0xce])], 1007, "InvalidUtf8");
fails(
  "fragmented text ends inside a character",
  [client(0x01, [0x61]), client(0x80, [0xe2, 0x82])],
  1007,
  "InvalidUtf8",
);
fails(
  "invalid UTF-8 fails at its fragment, before the message ends",
  [client(0x01, utf8("ok")), client(0x00, [0xce, 0x41]), client(0x80, utf8("never"))],
  1007,
  "InvalidUtf8",
);
fails("close with a 1-byte payload", [client(0x88, [3])], 1002, "CloseLengthOne");
for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
  fails(`close code ${code} is invalid`, [client(0x88, closePayload(code))], 1002, "InvalidCloseCode");
fails("close reason not UTF-8", [client(0x88, [3, 232, 0xff])], 1007, "InvalidCloseReason");
fails(
  "message over maxPayload in one frame",
  [frame(0x82, fill(0, 101), true)],
  1009,
  "MessageTooBig",
  [],
  "server",
  100,
);
fails(
  "message over maxPayload across fragments",
  [client(0x02, fill(0, 60)), client(0x80, fill(0, 60))],
  1009,
  "MessageTooBig",
  [],
  "server",
  100,
);
fails(
  "huge declared length fails before any payload",
  ["82ff0000010000000000" + hex(KEY)],
  1009,
  "MessageTooBig",
  [],
  "server",
  1 << 20,
);
add({
  name: "message of exactly maxPayload",
  role: "server",
  maxPayload: 100,
  input: [frame(0x82, fill(7, 100), true)],
  events: [{ message: "binary", payload: [{ hex: "07", repeat: 100 }] }],
});
add({
  name: "control frames do not count toward maxPayload",
  role: "server",
  maxPayload: 4,
  input: [client(0x02, fill(1, 2)), client(0x89, fill(2, 100)), client(0x80, fill(3, 2))],
  events: [{ ping: hex(fill(2, 100)) }, { message: "binary", payload: ["01010303"] }],
  reply: "8a64" + hex(fill(2, 100)),
});
fails("no events after an error", [client(0x83, []) + client(0x81, utf8("x"))], 1002, "ReservedOpcode");

writeFileSync(
  new URL("../test/vectors/frames.json", import.meta.url),
  JSON.stringify(vectors, null, 1) + "\n",
);
console.log(`${vectors.length} frame vectors`);
