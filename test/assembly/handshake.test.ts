// The handshake exports of both builds against test/vectors/handshake.json: whole, fed one more byte at a
// time, and fuzzed (fast-check) with the input at the very end of memory so a read past it traps. HTTP/2
// extended CONNECTs (RFC 8441, `connects`) are header lists, written as lines for `parseConnect`.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../bindings/engine/embedded.js";
import {
  buildAcceptResponse,
  buildConnectRequest,
  buildRejection,
  buildUpgradeRequest,
  computeAccept,
  HandshakeField as F,
  handshakeErrors,
  parseConnectRequest,
  parseConnectResponse,
  parseUpgradeRequest,
  parseUpgradeResponse,
  selectSubprotocol,
} from "../../bindings/protocol/handshake.js";
import { loadEngine, type Build, type RawEngine } from "./load.js";

type Text = string | { segments: string[] };
interface RequestVector {
  name: string;
  request: Text;
  status: number;
  reason?: string;
  maxHeaderBytes?: number;
  headEnd?: number;
  accept?: string;
  fields?: Partial<Record<keyof typeof spanFields | keyof typeof numberFields, string | number>>;
  headers?: [string, string][];
}
/** An HTTP/2 request's header list (pseudo-headers included) and what parseConnect decides. */
interface ConnectVector {
  name: string;
  headers: [string, string][];
  status: number;
  reason?: string;
  maxHeaderBytes?: number;
  fields?: RequestVector["fields"];
}
interface ResponseVector {
  name: string;
  nonce: string;
  response: Text;
  result?: number;
  fail?: string;
  reason?: string;
  offered?: string;
  protocol?: string;
  maxHeaderBytes?: number;
  headEnd?: number;
}
interface Vectors {
  requests: RequestVector[];
  connects: ConnectVector[];
  responses: ResponseVector[];
  protocols: { offered: string; supported: string; selected: string | null }[];
  buildRequest: {
    name: string;
    nonce: string;
    host: string;
    path: string;
    protocols: string;
    extra: string;
    request: string;
    accept?: string;
  }[];
  rejections: { status: number; sentAs?: number; response?: string; phrase?: string }[];
  accept: { key: string; accept: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/handshake.json", import.meta.url), "utf8"),
) as Vectors;

const spanFields = {
  method: F.MethodPtr,
  target: F.TargetPtr,
  host: F.HostPtr,
  key: F.KeyPtr,
  origin: F.OriginPtr,
  protocols: F.ProtocolsPtr,
  extensions: F.ExtensionsPtr,
} as const;
const numberFields = {
  version: F.Version,
  headerCount: F.HeaderCount,
  protocolLines: F.ProtocolLines,
  httpVersion: F.HttpVersion,
} as const;

/** HandshakeError ids by rule name. */
const reasonId: Record<string, number> = Object.fromEntries(
  Object.entries(handshakeErrors).map(([id, rule]) => [rule.name, Number(id)]),
);
/** Rules decided before the head is complete (headEnd stays 0). */
const early = new Set(["HeadTooLarge", "TooManyHeaders", "BareLineFeed"]);
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const latin1 = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
const textOf = (t: Text) => (typeof t === "string" ? t : t.segments.join(""));
const bytesOf = (t: Text) => latin1(textOf(t));
const str = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const nodeAccept = (key: Uint8Array) =>
  createHash("sha1").update(key).update(GUID).digest("base64");

/** The head length a vector expects: explicit, else through the first CRLFCRLF when decided after it. */
function expectedHeadEnd(text: string, decided: boolean, reason: string | undefined, explicit?: number): number {
  if (explicit !== undefined) return explicit;
  if (!decided || (reason !== undefined && early.has(reason))) return 0;
  return text.indexOf("\r\n\r\n") + 4;
}

/**
 * The bytes of a response head after which it is known to have no status line: the first that breaks
 * `HTTP/`, else the end of the first line (the head need not be complete).
 */
function statusLineDecided(text: string): number {
  for (let i = 0; i < Math.min(5, text.length); i++) if (text[i] !== "HTTP/"[i]) return i + 1;
  return text.indexOf("\r\n") + 2;
}

/** Status codes parseRequest may return. */
const requestStatuses = new Set([0, 101, 400, 405, 426, 431, 505]);
/** Status codes parseConnect may return. */
const connectStatuses = new Set([0, 200, 400, 405, 426, 431, 501]);
/** A header list as parseConnect reads it: `name: value` lines, then an empty line. */
const headerList = (headers: [string, string][]) =>
  latin1(headers.map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n");

function harness(build: Build) {
  const engine: RawEngine = loadEngine(build);
  const e = engine.exports;
  const hs = e.handshakePtr();
  const maxHeaders = e.buildConstant(3);
  const field = (offset: number) => engine.u32(hs + offset);
  const span = (ptrField: number) => str(engine.read(field(ptrField), field(ptrField + 4)));
  const end = engine.tail + 65536;
  const slot0 = () => engine.u32(e.resultPtr() + 16);
  /** Put `bytes` so they end exactly at the end of memory; returns their address. */
  const atEnd = (bytes: Uint8Array) => {
    engine.write(end - bytes.length, bytes);
    return end - bytes.length;
  };
  const headers = () =>
    Array.from({ length: field(F.HeaderCount) }, (_, i) => {
      const entry = hs + 128 + i * 16;
      const name = str(engine.read(engine.u32(entry), engine.u32(entry + 4)));
      return [name, str(engine.read(engine.u32(entry + 8), engine.u32(entry + 12)))] as [string, string];
    });
  /** Open client slot 0 and give it the key derived from `nonce` (its expected accept in the slot). */
  const clientWithNonce = (nonce: Uint8Array) => {
    expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
    engine.fillEntropy(nonce);
    engine.write(engine.io, latin1("h"));
    expect(e.buildRequest(0, engine.io, 1, 0, 0, 0, 0, 0, 0, engine.io + 1024)).toBeGreaterThan(0);
  };
  return { engine, e, field, span, atEnd, headers, clientWithNonce, slot0, maxHeaders };
}

describe.each(["simd", "mvp"] as const)("handshake (%s build)", (build) => {
  const h = harness(build);
  const { engine, e, field, span } = h;
  const hs = e.handshakePtr();

  describe("parseRequest", () => {
    it.each(vectors.requests.map((v) => [v.name, v] as const))("%s", (_, v) => {
      const bytes = bytesOf(v.request);
      const ptr = h.atEnd(bytes);
      const status = e.parseRequest(ptr, bytes.length, v.maxHeaderBytes ?? 8192);
      expect(status).toBe(v.status);
      expect(field(F.Status)).toBe(v.status);
      expect(field(F.Reason), `reason ${v.reason ?? "none"}`).toBe(v.reason ? reasonId[v.reason] : 0);
      expect(field(F.HeadEnd)).toBe(expectedHeadEnd(textOf(v.request), status !== 0, v.reason, v.headEnd));
      for (const [name, expected] of Object.entries(v.fields ?? {})) {
        if (name in spanFields) expect(span(spanFields[name as keyof typeof spanFields]), name).toBe(expected);
        else expect(field(numberFields[name as keyof typeof numberFields]), name).toBe(expected);
      }
      if (v.headers) expect(h.headers()).toEqual(v.headers);
      if (v.accept) {
        const out = engine.io;
        expect(e.acceptKey(field(F.KeyPtr), field(F.KeyLength), out)).toBe(28);
        expect(str(engine.read(out, 28))).toBe(v.accept);
      }
    });

    it.each(vectors.requests.map((v) => [v.name, v] as const))("%s: fed one byte at a time", (_, v) => {
      const bytes = bytesOf(v.request);
      const max = v.maxHeaderBytes ?? 8192;
      const whole = e.parseRequest(h.atEnd(bytes), bytes.length, max);
      const wholeFields = engine.read(e.handshakePtr(), 108);
      const headEnd = field(F.HeadEnd);
      let firstAnswer = -1;
      for (let n = 0; n <= bytes.length; n++) {
        const status = e.parseRequest(h.atEnd(bytes.subarray(0, n)), n, max);
        if (status === 0) {
          expect(firstAnswer, `0 after an answer at ${n} bytes`).toBe(-1);
          continue;
        }
        if (firstAnswer < 0) firstAnswer = n;
        expect(status, `${n} bytes`).toBe(whole);
        expect(field(F.Reason), `${n} bytes`).toBe(v.reason ? reasonId[v.reason] : 0);
      }
      if (whole === 0) expect(firstAnswer).toBe(-1);
      else if (headEnd > 0) expect(firstAnswer, "answered once the head is complete").toBe(headEnd);
      // The spans point into the input, which moved: compare everything but them on the final parse.
      expect(field(F.HeadEnd)).toBe(headEnd);
      expect(field(F.HeaderCount)).toBe(new DataView(wholeFields.buffer).getUint32(F.HeaderCount, true));
    });
  });

  describe("parseConnect", () => {
    it.each(vectors.connects.map((v) => [v.name, v] as const))("%s", (_, v) => {
      const bytes = headerList(v.headers);
      const status = e.parseConnect(h.atEnd(bytes), bytes.length, v.maxHeaderBytes ?? 8192);
      expect(status).toBe(v.status);
      expect(field(F.Status)).toBe(v.status);
      expect(field(F.Reason), `reason ${v.reason ?? "none"}`).toBe(v.reason ? reasonId[v.reason] : 0);
      if (!v.reason || !early.has(v.reason)) expect(field(F.HeadEnd)).toBe(bytes.length);
      for (const [name, expected] of Object.entries(v.fields ?? {})) {
        if (name in spanFields) expect(span(spanFields[name as keyof typeof spanFields]), name).toBe(expected);
        else expect(field(numberFields[name as keyof typeof numberFields]), name).toBe(expected);
      }
      if (v.status === 200) expect(h.headers()).toEqual(v.headers);
    });

    it("refuses one field more than the header table holds with 431, writing nothing past the table", () => {
      const fill = (n: number) =>
        Array.from({ length: n }, (_, i) => [`x-${i}`, "v"] as [string, string]).concat([["last", "v"]]);
      const base = vectors.connects[0].headers;
      const full = headerList([...base, ...fill(h.maxHeaders - base.length - 1)]);
      expect(e.parseConnect(h.atEnd(full), full.length, 8192)).toBe(200);
      const past = hs + 128 + h.maxHeaders * 16;
      const after = engine.read(past, 16);
      const over = headerList([...base, ...fill(h.maxHeaders - base.length)]);
      expect(e.parseConnect(h.atEnd(over), over.length, 8192)).toBe(431);
      expect(field(F.Reason)).toBe(reasonId.TooManyHeaders);
      expect(engine.read(past, 16)).toEqual(after);
    });

    it.each(vectors.connects.map((v) => [v.name, v] as const))("%s: fed one byte at a time", (_, v) => {
      const bytes = headerList(v.headers);
      const max = v.maxHeaderBytes ?? 8192;
      const whole = e.parseConnect(h.atEnd(bytes), bytes.length, max);
      let firstAnswer = -1;
      for (let n = 0; n <= bytes.length; n++) {
        const status = e.parseConnect(h.atEnd(bytes.subarray(0, n)), n, max);
        if (status === 0) continue;
        if (firstAnswer < 0) firstAnswer = n;
        expect(status, `${n} bytes`).toBe(whole);
      }
      if (!v.reason || !early.has(v.reason)) expect(firstAnswer, "answered at the empty line").toBe(bytes.length);
    });
  });

  describe("parseResponse", () => {
    const run = (v: ResponseVector, bytes: Uint8Array, n: number) => {
      const offered = latin1(v.offered ?? "");
      engine.write(engine.io + 2048, offered);
      return e.parseResponse(0, h.atEnd(bytes.subarray(0, n)), n, engine.io + 2048, offered.length, v.maxHeaderBytes ?? 8192);
    };
    const expectedResult = (v: ResponseVector) => v.result ?? -reasonId[v.fail!];
    const expectedReason = (v: ResponseVector) => reasonId[v.reason ?? v.fail ?? ""] ?? 0;

    it.each(vectors.responses.map((v) => [v.name, v] as const))("%s", (_, v) => {
      h.clientWithNonce(latin1(v.nonce));
      const bytes = bytesOf(v.response);
      const result = run(v, bytes, bytes.length);
      expect(result).toBe(expectedResult(v));
      expect(field(F.Reason)).toBe(expectedReason(v));
      const reason = v.fail ?? v.reason;
      expect(field(F.HeadEnd)).toBe(expectedHeadEnd(textOf(v.response), result !== 0, reason, v.headEnd));
      if (result > 0) expect(field(F.Status)).toBe(result);
      if (v.protocol !== undefined) expect(span(F.ProtocolsPtr)).toBe(v.protocol);
    });

    it.each(vectors.responses.map((v) => [v.name, v] as const))("%s: fed one byte at a time", (_, v) => {
      h.clientWithNonce(latin1(v.nonce));
      const bytes = bytesOf(v.response);
      const whole = run(v, bytes, bytes.length);
      const headEnd = field(F.HeadEnd);
      let firstAnswer = -1;
      for (let n = 0; n <= bytes.length; n++) {
        const result = run(v, bytes, n);
        if (result === 0) {
          expect(firstAnswer, `0 after an answer at ${n} bytes`).toBe(-1);
          continue;
        }
        if (firstAnswer < 0) firstAnswer = n;
        expect(result, `${n} bytes`).toBe(whole);
      }
      if (whole === 0) expect(firstAnswer).toBe(-1);
      else if (v.fail === "BadStatusLine") expect(firstAnswer).toBe(statusLineDecided(textOf(v.response)));
      else if (headEnd > 0) expect(firstAnswer).toBe(headEnd);
    });

    it("refuses an invalid connection", () => {
      expect(e.parseResponse(99, engine.io, 0, 0, 0, 8192)).toBe(-8);
    });

    it("fails a 101 for a connection whose request was never built", () => {
      expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
      const v = vectors.responses[1];
      expect(run(v, bytesOf(v.response), bytesOf(v.response).length)).toBe(-reasonId.AcceptMismatch);
    });
  });

  describe("selectProtocol", () => {
    it.each(vectors.protocols.map((v) => [`${v.offered} / ${v.supported}`, v] as const))("%s", (_, v) => {
      const offered = latin1(v.offered);
      const supported = latin1(v.supported);
      const at = h.atEnd(offered);
      engine.write(engine.io, supported);
      const offset = e.selectProtocol(at, offered.length, engine.io, supported.length);
      if (v.selected === null) {
        expect(offset).toBe(-1);
        expect(field(F.SelectedLength)).toBe(0);
      } else {
        expect(str(offered.subarray(offset, offset + field(F.SelectedLength)))).toBe(v.selected);
      }
    });
  });

  describe("buildRequest", () => {
    it.each(vectors.buildRequest.map((v) => [v.name, v] as const))("%s", (_, v) => {
      expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
      engine.fillEntropy(latin1(v.nonce));
      const parts = [v.host, v.path, v.protocols, v.extra].map(latin1);
      const at: number[] = [];
      let free = engine.io;
      for (const part of parts) {
        at.push(free);
        engine.write(free, part);
        free += part.length;
      }
      const n = e.buildRequest(0, at[0], parts[0].length, at[1], parts[1].length, at[2], parts[2].length, at[3], parts[3].length, free);
      expect(str(engine.read(free, n))).toBe(v.request);
      const key = /Sec-WebSocket-Key: (\S+)\r\n/.exec(v.request)![1];
      const expected = v.accept ?? nodeAccept(latin1(key));
      expect(str(engine.read(h.slot0() + 80, 28)), "expected accept kept in the slot").toBe(expected);
      expect(engine.u32(e.resultPtr() + 12), "entropy spent").toBe(0);
      // The server side accepts what the client side wrote.
      expect(e.parseRequest(free, n, 8192)).toBe(101);
    });

    it("spends 16 fresh entropy bytes per key", () => {
      expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
      const nonces = latin1("ABCDEFGHIJKLMNOPabcdefghijklmnop");
      engine.fillEntropy(nonces);
      engine.write(engine.io, latin1("h"));
      const keys = [0, 1].map(() => {
        const n = e.buildRequest(0, engine.io, 1, 0, 0, 0, 0, 0, 0, engine.io + 64);
        return /Sec-WebSocket-Key: (\S+)\r\n/.exec(str(engine.read(engine.io + 64, n)))![1];
      });
      expect(keys).toEqual([
        Buffer.from("abcdefghijklmnop").toString("base64"),
        Buffer.from("ABCDEFGHIJKLMNOP").toString("base64"),
      ]);
    });

    it("returns EntropyExhausted (-3) and writes nothing without 16 random bytes", () => {
      expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
      engine.fillEntropy(new Uint8Array(15));
      engine.write(engine.io, latin1("h"));
      engine.write(engine.io + 64, new Uint8Array(300).fill(0xee));
      expect(e.buildRequest(0, engine.io, 1, 0, 0, 0, 0, 0, 0, engine.io + 64)).toBe(-3);
      expect(engine.read(engine.io + 64, 300).every((b) => b === 0xee)).toBe(true);
      expect(engine.u32(e.resultPtr() + 12)).toBe(15);
    });

    it("returns InvalidConnection (-8) for a bad slot", () => {
      engine.fillEntropy(new Uint8Array(16));
      expect(e.buildRequest(7, engine.io, 1, 0, 0, 0, 0, 0, 0, engine.io + 64)).toBe(-8);
    });

    it.each([
      ["host with CRLF", "a\r\nX: y", "/", ""],
      ["empty host", "", "/", ""],
      ["path with a space", "h", "/a b", ""],
      ["protocols with LF", "h", "/", "chat\n"],
    ])("returns InvalidArgument (-10) for a %s", (_, host, path, protocols) => {
      expect(e.open(0, 1, 0, 1 << 20)).toBe(0);
      engine.fillEntropy(new Uint8Array(16));
      const parts = [host, path, protocols].map(latin1);
      engine.write(engine.io, parts[0]);
      engine.write(engine.io + 100, parts[1]);
      engine.write(engine.io + 200, parts[2]);
      const n = e.buildRequest(0, engine.io, parts[0].length, engine.io + 100, parts[1].length, engine.io + 200, parts[2].length, 0, 0, engine.io + 300);
      expect(n).toBe(-10);
    });
  });

  describe("extended CONNECT (RFC 8441)", () => {
    /** Stage strings one after another in the I/O area: their addresses and the first free byte. */
    const stage = (...texts: string[]) => {
      const at: number[] = [];
      let free = engine.io;
      for (const text of texts) {
        at.push(free);
        engine.write(free, latin1(text));
        free += text.length;
      }
      return { at, free };
    };
    const connect = (secure: number, host: string, path: string, protocols: string, extra: string) => {
      const { at, free } = stage(host, path, protocols, extra);
      engine.write(free, new Uint8Array(400).fill(0xee));
      const n = e.buildConnectRequest(secure, at[0], host.length, at[1], path.length, at[2], protocols.length, at[3], extra.length, free);
      return n < 0 ? n : str(engine.read(free, n));
    };
    const respond = (head: string, offered = "", max = 8192) => {
      const { at } = stage(head, offered);
      return e.parseConnectResponse(at[0], head.length, at[1], offered.length, max);
    };

    it("writes the pseudo-header fields, the version, the offer and the extra lines, with no key", () => {
      expect(connect(1, "example.com:8443", "/chat?room=1", "chat, superchat", "origin: https://example.com\r\n")).toBe(
        ":method: CONNECT\r\n:protocol: websocket\r\n:scheme: https\r\n:authority: example.com:8443\r\n" +
          ":path: /chat?room=1\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: chat, superchat\r\n" +
          "origin: https://example.com\r\n\r\n",
      );
      expect(connect(0, "h", "", "", "")).toBe(
        ":method: CONNECT\r\n:protocol: websocket\r\n:scheme: http\r\n:authority: h\r\n:path: /\r\n" +
          "sec-websocket-version: 13\r\n\r\n",
      );
    });

    it.each([
      ["host with CRLF", "a\r\nx: y", "/", ""],
      ["empty host", "", "/", ""],
      ["path with a space", "h", "/a b", ""],
      ["protocols with LF", "h", "/", "chat\n"],
    ])("returns InvalidArgument (-10) for a %s and writes nothing", (_, host, path, protocols) => {
      expect(connect(1, host, path, protocols, "")).toBe(-10);
      expect(engine.read(stage(host, path, protocols).free, 400).every((b) => b === 0xee)).toBe(true);
    });

    it("accepts a 200 without Upgrade, Connection or Sec-WebSocket-Accept, as HTTP/2", () => {
      const head = ":status: 200\r\ndate: today\r\n\r\n";
      expect(respond(head)).toBe(200);
      expect(field(F.Status)).toBe(200);
      expect(field(F.HttpVersion)).toBe(20);
      expect(field(F.Reason)).toBe(0);
      expect(field(F.HeadEnd)).toBe(head.length);
      expect(h.headers()).toEqual([["date", "today"]]);
      expect(respond(":status: 200\r\n\r\n")).toBe(200);
    });

    it("returns any other status with UnexpectedStatus, 101 included", () => {
      for (const status of [101, 204, 301, 400, 403, 404, 500, 503]) {
        expect(respond(`:status: ${status}\r\ncontent-type: text/plain\r\n\r\n`)).toBe(status);
        expect(field(F.Reason)).toBe(reasonId.UnexpectedStatus);
      }
    });

    it.each([
      ["a chosen subprotocol that was offered", "sec-websocket-protocol: superchat\r\n", "chat,superchat", 200],
      ["a subprotocol not offered", "sec-websocket-protocol: other\r\n", "chat", -reasonId.ProtocolNotOffered],
      ["two subprotocol fields", "sec-websocket-protocol: chat\r\nsec-websocket-protocol: chat\r\n", "chat", -reasonId.ProtocolNotOffered],
      ["a subprotocol when none was offered", "sec-websocket-protocol: chat\r\n", "", -reasonId.ProtocolNotRequested],
      ["no subprotocol when some were offered", "", "chat", -reasonId.ProtocolMissing],
      ["extensions (the host checks them against its offer)", "sec-websocket-extensions: permessage-deflate\r\n", "", -reasonId.ExtensionNotOffered],
      ["a malformed field", "bad field\r\n", "", -reasonId.BadHeaderLine],
    ])("judges %s as over HTTP/1.1", (_, fields, offered, result) => {
      expect(respond(`:status: 200\r\n${fields}\r\n`, offered)).toBe(result);
      if (result === 200 && fields) expect(span(F.ProtocolsPtr)).toBe("superchat");
    });

    it.each([
      ["an HTTP/1.1 status line", "HTTP/1.1 200 OK\r\n\r\n"],
      ["a status of two digits", ":status: 20\r\n\r\n"],
      ["a status with a letter", ":status: 2x0\r\n\r\n"],
      ["a status line with more after it", ":status: 200 OK\r\n\r\n"],
      ["another pseudo-header field first", ":path: /\r\n\r\n"],
    ])("refuses %s as BadStatusLine", (_, head) => {
      expect(respond(head)).toBe(-reasonId.BadStatusLine);
    });

    it("returns 0 for an incomplete block and HeadTooLarge past maxHeaderBytes", () => {
      expect(respond(":status: 200\r\ndate: x\r\n")).toBe(0);
      expect(respond(`:status: 200\r\nx: ${"a".repeat(100)}\r\n\r\n`, "", 64)).toBe(-reasonId.HeadTooLarge);
    });
  });

  describe("buildResponse", () => {
    it("writes the RFC 6455 §1.3 response with a protocol and extra header lines", () => {
      const parts = ["dGhlIHNhbXBsZSBub25jZQ==", "chat", "X-Powered-By: wasmsocket\r\n"].map(latin1);
      parts.forEach((p, i) => engine.write(engine.io + i * 64, p));
      const dst = engine.io + 256;
      const n = e.buildResponse(engine.io, parts[0].length, engine.io + 64, 4, engine.io + 128, parts[2].length, dst);
      expect(str(engine.read(dst, n))).toBe(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n" +
          "X-Powered-By: wasmsocket\r\n\r\n",
      );
    });

    it("accepts a key that overlaps the destination", () => {
      const key = latin1("dGhlIHNhbXBsZSBub25jZQ==");
      engine.write(engine.io, key);
      const n = e.buildResponse(engine.io, key.length, 0, 0, 0, 0, engine.io);
      expect(str(engine.read(engine.io, n))).toContain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    });

    it("returns InvalidArgument (-10) for a protocol containing CR", () => {
      engine.write(engine.io, latin1("a\rb"));
      expect(e.buildResponse(engine.io, 0, engine.io, 3, 0, 0, engine.io + 64)).toBe(-10);
    });

    it("answers every accepted request so that the client side accepts the response", () => {
      h.clientWithNonce(latin1("0123456789ABCDEF"));
      const request = engine.read(engine.io + 1024, 300);
      const n = e.parseRequest(engine.io + 1024, request.length, 8192);
      expect(n).toBe(101);
      const dst = engine.io + 2048;
      const len = e.buildResponse(field(F.KeyPtr), field(F.KeyLength), 0, 0, 0, 0, dst);
      expect(e.parseResponse(0, dst, len, 0, 0, 8192)).toBe(101);
    });
  });

  describe("buildRejection", () => {
    it.each(vectors.rejections.map((v) => [v.status, v] as const))("%s", (_, v) => {
      h.clientWithNonce(new Uint8Array(16));
      const dst = engine.io + 2048;
      const n = e.buildRejection(v.status, dst);
      const text = str(engine.read(dst, n));
      if (v.response) expect(text).toBe(v.response);
      const status = v.sentAs ?? v.status;
      const [head, body] = text.split("\r\n\r\n");
      expect(head.split("\r\n")[0]).toBe(`HTTP/1.1 ${status} ${v.phrase ?? head.split("\r\n")[0].slice(13)}`);
      expect(head).toContain("\r\nConnection: ");
      expect(head).toContain("close\r\n");
      expect(head).toContain("\r\nContent-Type: text/plain\r\n");
      expect(head).toMatch(new RegExp(`\\r\\nContent-Length: ${body.length}$`));
      expect(body).toBe(`${status} ${head.split("\r\n")[0].slice(13)}\n`);
      // A client reading it reports the status.
      expect(e.parseResponse(0, dst, n, 0, 0, 8192)).toBe(status);
    });
  });

  describe("acceptKey and sha1", () => {
    it.each(vectors.accept.map((v) => [v.key, v] as const))("accept of %j", (_, v) => {
      const key = latin1(v.key);
      engine.write(engine.io, key);
      expect(e.acceptKey(engine.io, key.length, engine.io + 64)).toBe(28);
      expect(str(engine.read(engine.io + 64, 28))).toBe(v.accept);
    });

    it("agrees with node:crypto on SHA-1 and the accept value for inputs of 0-300 bytes", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
          const ptr = h.atEnd(input);
          expect(e.sha1(ptr, input.length, engine.io)).toBe(20);
          expect(Buffer.from(engine.read(engine.io, 20)).toString("hex")).toBe(
            createHash("sha1").update(input).digest("hex"),
          );
          expect(e.acceptKey(ptr, input.length, engine.io)).toBe(28);
          expect(str(engine.read(engine.io, 28))).toBe(nodeAccept(input));
        }),
        { numRuns: 400 },
      );
    });

    it("hashes every length across the block boundaries exactly", () => {
      const input = new Uint8Array(200).map((_, i) => (i * 7 + 3) & 0xff);
      for (let n = 0; n <= 200; n++) {
        e.sha1(h.atEnd(input.subarray(0, n)), n, engine.io);
        expect(Buffer.from(engine.read(engine.io, 20)).toString("hex"), `${n} bytes`).toBe(
          createHash("sha1").update(input.subarray(0, n)).digest("hex"),
        );
      }
    });
  });

  describe("fuzz", () => {
    const valid = bytesOf(vectors.requests[0].request);
    const interesting = fc.constantFrom(...[13, 10, 32, 9, 58, 44, 0, 0x7f, 0xff, 0x61, 0x47, 0x2f].map((b) => b));
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), interesting);
    /** A valid head with a few random edits (replace, insert, delete), and maybe more bytes after it. */
    const mutated = (base: Uint8Array) =>
      fc
        .tuple(
          fc.array(fc.tuple(fc.nat(), fc.constantFrom("replace", "insert", "delete"), byte), { maxLength: 6 }),
          fc.uint8Array({ maxLength: 8 }),
        )
        .map(([edits, tail]) => {
          const bytes = [...base];
          for (const [at, kind, value] of edits) {
            const i = at % (bytes.length + 1);
            if (kind === "replace" && i < bytes.length) bytes[i] = value;
            else if (kind === "insert") bytes.splice(i, 0, value);
            else bytes.splice(i, 1);
          }
          return new Uint8Array([...bytes, ...tail]);
        });
    const input = fc.oneof(fc.uint8Array({ maxLength: 1500 }), fc.array(byte, { maxLength: 400 }).map((a) => new Uint8Array(a)), mutated(valid));
    const limit = fc.oneof(fc.constant(8192), fc.integer({ min: 0, max: 400 }));

    /** Every span the last parse reported lies inside [ptr, ptr + len). */
    const spansInside = (ptr: number, len: number) => {
      for (const ptrField of Object.values(spanFields)) {
        const at = field(ptrField);
        if (at === 0) continue;
        expect(at).toBeGreaterThanOrEqual(ptr);
        expect(at + field(ptrField + 4)).toBeLessThanOrEqual(ptr + len);
      }
      expect(field(F.HeaderCount)).toBeLessThanOrEqual(h.maxHeaders);
      for (const [name, value] of h.headers()) expect(name.length + value.length).toBeLessThanOrEqual(len);
    };

    it("parseRequest never traps, answers 0/101/4xx/5xx, and reads only its input", () => {
      fc.assert(
        fc.property(input, limit, fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes, max, before) => {
          const ptr = h.atEnd(bytes);
          engine.write(ptr - 16, before);
          const status = e.parseRequest(ptr, bytes.length, max);
          expect(requestStatuses.has(status), `status ${status}`).toBe(true);
          const fields = engine.read(e.handshakePtr(), 108);
          if (status !== 0) {
            expect(field(F.HeadEnd)).toBeLessThanOrEqual(Math.min(bytes.length, max));
            spansInside(ptr, bytes.length);
          }
          // Different bytes before the input change nothing.
          engine.write(ptr - 16, before.map((b) => b ^ 0x0d));
          expect(e.parseRequest(ptr, bytes.length, max)).toBe(status);
          expect(engine.read(e.handshakePtr(), 108)).toEqual(fields);
        }),
        { numRuns: 3000 },
      );
    });

    it("parseConnect never traps, answers 0/200/4xx/501, and reads only its input", () => {
      const valid = headerList(vectors.connects[0].headers);
      fc.assert(
        fc.property(fc.oneof(input, mutated(valid)), limit, (bytes, max) => {
          const ptr = h.atEnd(bytes);
          const status = e.parseConnect(ptr, bytes.length, max);
          expect(connectStatuses.has(status), `status ${status}`).toBe(true);
          if (status !== 0) {
            expect(field(F.HeadEnd)).toBeLessThanOrEqual(Math.min(bytes.length, max));
            spansInside(ptr, bytes.length);
          }
        }),
        { numRuns: 3000 },
      );
    });

    it("parseResponse never traps and answers 0, a status, or -HandshakeError", () => {
      const valid101 = bytesOf(vectors.responses[0].response);
      const responseInput = fc.oneof(input, mutated(valid101));
      h.clientWithNonce(latin1("the sample nonce"));
      const offered = latin1("chat, superchat");
      engine.write(engine.io + 2048, offered);
      fc.assert(
        fc.property(responseInput, limit, (bytes, max) => {
          const ptr = h.atEnd(bytes);
          const result = e.parseResponse(0, ptr, bytes.length, engine.io + 2048, offered.length, max);
          const ok = result === 0 || (result >= 100 && result <= 999) || (-result in handshakeErrors && result < 0);
          expect(ok, `result ${result}`).toBe(true);
          if (result !== 0) expect(field(F.HeadEnd)).toBeLessThanOrEqual(Math.min(bytes.length, max));
        }),
        { numRuns: 3000 },
      );
    });

    it("parseConnectResponse never traps and answers 0, a status, or -HandshakeError", () => {
      const valid200 = latin1(":status: 200\r\nsec-websocket-protocol: chat\r\n\r\n");
      const offered = latin1("chat, superchat");
      engine.write(engine.io + 2048, offered);
      fc.assert(
        fc.property(fc.oneof(input, mutated(valid200)), limit, (bytes, max) => {
          const ptr = h.atEnd(bytes);
          const result = e.parseConnectResponse(ptr, bytes.length, engine.io + 2048, offered.length, max);
          const ok = result === 0 || (result >= 100 && result <= 999) || (-result in handshakeErrors && result < 0);
          expect(ok, `result ${result}`).toBe(true);
          if (result !== 0) expect(field(F.HeadEnd)).toBeLessThanOrEqual(Math.min(bytes.length, max));
        }),
        { numRuns: 3000 },
      );
    });

    it("accepts a random 16-byte key and refuses any other decoded length", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 24 }), (keyBytes) => {
          const key = Buffer.from(keyBytes).toString("base64");
          const text = textOf(vectors.requests[2].request).replace("dGhlIHNhbXBsZSBub25jZQ==", key);
          const bytes = latin1(text);
          const status = e.parseRequest(h.atEnd(bytes), bytes.length, 8192);
          expect(status).toBe(keyBytes.length === 16 ? 101 : 400);
          if (status === 101) {
            e.acceptKey(field(F.KeyPtr), field(F.KeyLength), engine.io);
            expect(str(engine.read(engine.io, 28))).toBe(nodeAccept(latin1(key)));
          }
        }),
        { numRuns: 300 },
      );
    });

    it("selectProtocol returns an offset of an element both lists share, or -1", () => {
      const token = fc.constantFrom("chat", "superchat", "mqtt", "v1", "Chat", "");
      const list = fc.array(fc.tuple(token, fc.constantFrom("", " ", "\t", " \t")), { maxLength: 5 });
      fc.assert(
        fc.property(list, list, (offered, supported) => {
          const offeredText = offered.map(([t, ws]) => ws + t + ws).join(",");
          const supportedText = supported.map(([t, ws]) => ws + t + ws).join(",");
          const a = latin1(offeredText);
          const b = latin1(supportedText);
          engine.write(engine.io, b);
          const offset = e.selectProtocol(h.atEnd(a), a.length, engine.io, b.length);
          const names = new Set(supported.map(([t]) => t).filter(Boolean));
          const expected = offered.map(([t]) => t).find((t) => t && names.has(t)) ?? null;
          if (expected === null) expect(offset).toBe(-1);
          else expect(str(a.subarray(offset, offset + field(F.SelectedLength)))).toBe(expected);
        }),
        { numRuns: 500 },
      );
    });
  });
});

describe.each(["simd", "mvp"] as const)("bindings/protocol/handshake.ts (%s build)", (build) => {
  const engine = createEngine({}, build);
  const rfcRequest = latin1(textOf(vectors.requests[0].request) + "\x81\x80");

  it("parses the RFC 6455 §1.3 request into JS values", () => {
    expect(parseUpgradeRequest(engine, rfcRequest)).toEqual({
      status: 101,
      httpVersion: 11,
      headEnd: rfcRequest.length - 2,
      reason: "",
      message: "",
      wsStatus: 101,
      wsMessage: "",
      method: "GET",
      path: "/chat",
      host: "server.example.com",
      key: "dGhlIHNhbXBsZSBub25jZQ==",
      version: 13,
      origin: "http://example.com",
      protocols: ["chat", "superchat"],
      extensions: "",
      headers: {
        host: "server.example.com",
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        origin: "http://example.com",
        "sec-websocket-protocol": "chat, superchat",
        "sec-websocket-version": "13",
      },
      rawHeaders: [
        "Host",
        "server.example.com",
        "Upgrade",
        "websocket",
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Key",
        "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin",
        "http://example.com",
        "Sec-WebSocket-Protocol",
        "chat, superchat",
        "Sec-WebSocket-Version",
        "13",
      ],
    });
  });

  it("keeps each request's names as sent while their lower case keys the record (names read before are cached)", () => {
    const request = (fields: string) =>
      latin1(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${fields}\r\n`,
      );
    const first = parseUpgradeRequest(engine, request("X-Trace: a\r\nx-trace: b\r\nConstructor: c\r\n"));
    expect(first?.rawHeaders.slice(10)).toEqual(["X-Trace", "a", "x-trace", "b", "Constructor", "c"]);
    expect(first?.headers["x-trace"]).toBe("a, b");
    // Names of the same length and other bytes (or case) are other names; the cached ones come back as sent.
    const second = parseUpgradeRequest(engine, request("X-TRACE: d\r\nX-Trade: e\r\nX-Trace: f\r\n"));
    expect(second?.rawHeaders.slice(10)).toEqual(["X-TRACE", "d", "X-Trade", "e", "X-Trace", "f"]);
    expect(second?.headers).toMatchObject({ "x-trace": "d, f", "x-trade": "e", host: "h" });
    // More names of one length than the cache keeps are read all the same.
    const many = Array.from({ length: 12 }, (_, i) => `X-Name-${String.fromCharCode(65 + i)}: ${i}\r\n`).join("");
    for (let round = 0; round < 2; round++) {
      const parsed = parseUpgradeRequest(engine, request(many));
      expect(parsed?.rawHeaders.filter((_, i) => i >= 10 && i % 2 === 0)).toEqual(
        Array.from({ length: 12 }, (_, i) => `X-Name-${String.fromCharCode(65 + i)}`),
      );
      expect(parsed?.headers["x-name-l"]).toBe("11");
    }
  });

  it("returns null for an incomplete head and names the rule of a refusal", () => {
    expect(parseUpgradeRequest(engine, rfcRequest.subarray(0, 50))).toBeNull();
    const refused = parseUpgradeRequest(engine, latin1(textOf(vectors.requests[0].request).replace(": 13", ": 7")));
    expect(refused).toMatchObject({ status: 426, reason: "VersionUnsupported", version: 7 });
    // ws refuses the same request with 400 and its own words (the error table's @wsStatus/@wsMessage).
    expect(refused).toMatchObject({ wsStatus: 400, wsMessage: "Missing or invalid Sec-WebSocket-Version header" });
    const tooLong = parseUpgradeRequest(engine, rfcRequest, { maxHeaderBytes: 100 });
    expect(tooLong).toMatchObject({ status: 431, reason: "HeadTooLarge", headEnd: 0 });
  });

  it("joins repeated header lines and all offered protocols", () => {
    const text = textOf(vectors.requests.find((v) => v.name.startsWith("Sec-WebSocket-Protocol on two"))!.request);
    const request = parseUpgradeRequest(engine, latin1(text))!;
    expect(request.protocols).toEqual(["chat", "superchat"]);
    expect(request.headers["sec-websocket-protocol"]).toBe("chat, superchat");
  });

  it("chooses the client's first supported subprotocol", () => {
    expect(selectSubprotocol(engine, ["mqtt", "chat", "superchat"], ["superchat", "chat"])).toBe("chat");
    expect(selectSubprotocol(engine, ["mqtt"], ["chat"])).toBeNull();
  });

  it("opens a connection end to end: request, accept response, response check", () => {
    const request = buildUpgradeRequest(engine, 1, {
      host: "example.com:8080",
      path: "/ws?x=1",
      protocols: ["chat", "superchat"],
      headers: { Origin: "http://example.com" },
    });
    const parsed = parseUpgradeRequest(engine, request)!;
    expect(parsed).toMatchObject({ status: 101, path: "/ws?x=1", host: "example.com:8080", origin: "http://example.com" });
    expect(computeAccept(engine, parsed.key)).toBe(nodeAccept(latin1(parsed.key)));
    const protocol = selectSubprotocol(engine, parsed.protocols, ["superchat"])!;
    const response = buildAcceptResponse(engine, parsed.key, protocol, { "X-Server": "wasmsocket" });
    expect(str(response)).toContain(`Sec-WebSocket-Accept: ${nodeAccept(latin1(parsed.key))}\r\n`);
    const answer = parseUpgradeResponse(engine, 1, response, ["chat", "superchat"]);
    expect(answer).toMatchObject({ ok: true, headEnd: response.length, protocol: "superchat" });
    expect(answer!.headers["x-server"]).toBe("wasmsocket");
    expect(parseUpgradeResponse(engine, 1, response.subarray(0, 20))).toBeNull();
  });

  it("reports a refusal by the server with its status, and a broken 101 with its rule", () => {
    buildUpgradeRequest(engine, 0, { host: "h" });
    expect(parseUpgradeResponse(engine, 0, buildRejection(engine, 503))).toMatchObject({
      ok: false,
      status: 503,
      reason: "UnexpectedStatus",
      message: "server answered 503 Service Unavailable",
      wsMessage: "Unexpected server response: 503",
    });
    const forged = buildAcceptResponse(engine, "dGhlIHNhbXBsZSBub25jZQ==");
    expect(parseUpgradeResponse(engine, 0, forged)).toMatchObject({
      ok: false,
      status: 0,
      reason: "AcceptMismatch",
      wsMessage: "Invalid Sec-WebSocket-Accept header",
    });
  });

  it("reads an HTTP/2 extended CONNECT's header list (RFC 8441 §5.1) into the same values", () => {
    const raw = vectors.connects[0].headers.flat();
    expect(parseConnectRequest(engine, raw)).toMatchObject({
      status: 200,
      httpVersion: 20,
      reason: "",
      method: "CONNECT",
      path: "/chat",
      host: "server.example.com",
      key: "",
      version: 13,
      origin: "http://www.example.com",
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate",
      rawHeaders: raw,
    });
    const refused = parseConnectRequest(engine, raw.map((x) => (x === "https" ? "ftp" : x)));
    expect(refused).toMatchObject({ status: 400, reason: "SchemeInvalid", path: "/chat" });
    expect(parseConnectRequest(engine, raw, { maxHeaderBytes: 100 })).toMatchObject({ status: 431 });
  });

  it("refuses a CR or LF inside an HTTP/2 field instead of reading a field smuggled behind it", () => {
    const raw = vectors.connects[0].headers.flat();
    const smuggled = raw.map((x) => (x === "http://www.example.com" ? "null\r\nsec-websocket-protocol: evil" : x));
    expect(parseConnectRequest(engine, smuggled)).toMatchObject({ status: 400, reason: "BadHeaderLine" });
    const inName = [...raw, "x-a\nsec-websocket-protocol", "evil"];
    expect(parseConnectRequest(engine, inName)).toMatchObject({ status: 400, reason: "BadHeaderLine" });
  });

  it("refuses header values containing CR or LF", () => {
    expect(() => buildAcceptResponse(engine, "k", "", { "X-A": "a\r\nX-B: b" })).toThrow(TypeError);
  });
  it("builds an extended CONNECT's fields and checks the answer (RFC 8441)", () => {
    expect(
      buildConnectRequest(engine, {
        secure: true,
        host: "example.com",
        path: "/ws",
        protocols: ["chat", "superchat"],
        headers: { Origin: "https://example.com", "X-Token": "t" },
      }),
    ).toEqual([
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "https"],
      [":authority", "example.com"],
      [":path", "/ws"],
      ["sec-websocket-version", "13"],
      ["sec-websocket-protocol", "chat, superchat"],
      ["origin", "https://example.com"],
      ["x-token", "t"],
    ]);
    expect(parseConnectResponse(engine, 200, [["sec-websocket-protocol", "chat"]], ["chat"])).toMatchObject({
      ok: true,
      protocol: "chat",
      headers: { "sec-websocket-protocol": "chat" },
    });
    expect(parseConnectResponse(engine, 403, [["content-type", "text/plain"]])).toMatchObject({
      ok: false,
      status: 403,
      reason: "UnexpectedStatus",
      wsMessage: "Unexpected server response: 403",
    });
    expect(parseConnectResponse(engine, 200, [], ["chat"])).toMatchObject({
      ok: false,
      reason: "ProtocolMissing",
      wsMessage: "Server sent no subprotocol",
    });
    const extensions: [string, string][] = [["sec-websocket-extensions", "permessage-deflate"]];
    expect(parseConnectResponse(engine, 200, extensions, [], { extensionsOffered: true })).toMatchObject({
      ok: true,
      extensions: "permessage-deflate",
    });
    expect(parseConnectResponse(engine, 200, extensions)).toMatchObject({ ok: false, reason: "ExtensionNotOffered" });
  });

});
