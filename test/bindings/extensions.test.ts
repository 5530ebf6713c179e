import { describe, expect, it } from "vitest";
import { extension, WsDeflate } from "../support/ws-deflate.js";
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  deflateOptions,
  ExtensionNegotiationError,
  parseExtensions,
  type PerMessageDeflateOptions,
} from "../../bindings/protocol/extensions.js";

describe("parseExtensions (RFC 6455 §9.1)", () => {
  it("reads elements, parameters, quoted values and several header lines", () => {
    expect(
      parseExtensions([
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10" , ,foo',
        "Bar;X=1",
      ]),
    ).toEqual([
      {
        name: "permessage-deflate",
        params: [
          ["client_max_window_bits", true],
          ["server_max_window_bits", "10"],
        ],
      },
      { name: "foo", params: [] },
      { name: "bar", params: [["x", "1"]] },
    ]);
  });

  it.each([
    ["permessage-deflate; =3", "expected a parameter name"],
    ["permessage-deflate; a=", "not a token"],
    ['permessage-deflate; a="1 0"', "not a token"],
    ["permessage-deflate foo", "unexpected"],
    ["; a", "expected an extension token"],
  ])("reports %j as malformed and goes on to the next element", (bad, why) => {
    const elements = parseExtensions(`${bad}, permessage-deflate`);
    expect(elements).toHaveLength(2);
    expect("error" in elements[0] && elements[0].error).toContain(why);
    expect(elements[1]).toEqual({ name: "permessage-deflate", params: [] });
  });

  it("reports an unterminated quoted value, which swallows the rest of the line", () => {
    const elements = parseExtensions('permessage-deflate; a="10, permessage-deflate');
    expect(elements).toHaveLength(1);
    expect("error" in elements[0] && elements[0].error).toContain("unterminated");
  });

  it("skips a comma inside a malformed element's quoted string", () => {
    const elements = parseExtensions('x; a="b,c" d, permessage-deflate');
    expect(elements.map((e) => ("error" in e ? "error" : e.name))).toEqual(["error", "permessage-deflate"]);
  });
});

describe("server: acceptDeflateOffer (RFC 7692 §7.1)", () => {
  const accept = (header: string | string[], policy: PerMessageDeflateOptions = {}) =>
    acceptDeflateOffer(header, policy)?.response ?? null;

  it.each([
    // RFC 7692 §7.1.3 style examples and the offers browsers and libraries send.
    ["permessage-deflate", "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", "permessage-deflate"],
    ["permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"],
    ["permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"],
    [
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_max_window_bits=10",
    ],
    ["permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=12"],
    ['permessage-deflate; server_max_window_bits="9"', "permessage-deflate; server_max_window_bits=9"],
    [
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    ],
    ["x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"],
    ["PerMessage-Deflate; Server_No_Context_Takeover", "permessage-deflate; server_no_context_takeover"],
  ])("answers %j with %j", (offer, response) => {
    expect(accept(offer)).toBe(response);
  });

  it.each([
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=08",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; client_max_window_bits=1a",
    "permessage-deflate; client_no_context_takeover=1",
    "permessage-deflate; unknown_parameter",
    "permessage-deflate; =1",
  ])("declines %j and takes the next offer", (bad) => {
    expect(accept(bad)).toBeNull();
    expect(accept(`${bad}, permessage-deflate; client_no_context_takeover`)).toBe(
      "permessage-deflate; client_no_context_takeover",
    );
  });

  it("declines when nothing is offered", () => {
    expect(acceptDeflateOffer(undefined, {})).toBeNull();
    expect(acceptDeflateOffer("", {})).toBeNull();
    expect(acceptDeflateOffer("x-webkit-deflate-frame", {})).toBeNull();
  });

  it("applies the accept policy within what the offer allows", () => {
    const policy = {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
      clientMaxWindowBits: 10,
    };
    expect(accept("permessage-deflate; client_max_window_bits", policy)).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
    );
    // The offer's limits win when smaller; client_max_window_bits is never answered when not offered.
    expect(accept("permessage-deflate; server_max_window_bits=9; client_max_window_bits=9", policy)).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
    );
    expect(accept("permessage-deflate", { clientMaxWindowBits: 10 })).toBe("permessage-deflate");
  });

  it("sets up the session each end runs", () => {
    expect(
      acceptDeflateOffer("permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 9 })?.session,
    ).toEqual({
      sendNoContextTakeover: false,
      sendWindowBits: 15,
      receiveNoContextTakeover: false,
      receiveWindowBits: 9,
    });
    expect(
      acceptDeflateOffer("permessage-deflate; server_max_window_bits=8; client_no_context_takeover", {})
        ?.session,
    ).toEqual({
      sendNoContextTakeover: false,
      sendWindowBits: 8,
      receiveNoContextTakeover: true,
      receiveWindowBits: 15,
    });
  });
});

describe("client: buildDeflateOffer and acceptDeflateResponse", () => {
  it("offers client_max_window_bits without a value by default, as browsers do", () => {
    expect(buildDeflateOffer({})).toBe("permessage-deflate; client_max_window_bits");
    expect(
      buildDeflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 11,
      }),
    ).toBe(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
    );
  });

  it("accepts valid responses and derives the session", () => {
    expect(acceptDeflateResponse(undefined, {})).toBeNull();
    expect(acceptDeflateResponse("", {})).toBeNull();
    expect(acceptDeflateResponse("permessage-deflate", {})?.session).toEqual({
      sendNoContextTakeover: false,
      sendWindowBits: 15,
      receiveNoContextTakeover: false,
      receiveWindowBits: 15,
    });
    expect(
      acceptDeflateResponse(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
        { serverMaxWindowBits: 12 },
      )?.session,
    ).toEqual({
      sendNoContextTakeover: true,
      sendWindowBits: 9,
      receiveNoContextTakeover: true,
      receiveWindowBits: 10,
    });
  });

  it.each([
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, "duplicate"],
    ["permessage-deflate; foo", {}, "unknown parameter"],
    ["permessage-deflate; server_max_window_bits=16", {}, "8-15"],
    ["permessage-deflate; client_max_window_bits", {}, "needs a value"],
    ["permessage-deflate, permessage-deflate", {}, "more than one"],
    ["x-webkit-deflate-frame", {}, "not offered"],
    ["permessage-deflate; =", {}, "expected a parameter name"],
    ["permessage-deflate", { serverNoContextTakeover: true }, "server_no_context_takeover"],
    ["permessage-deflate", { serverMaxWindowBits: 10 }, "not answered"],
    ["permessage-deflate; server_max_window_bits=11", { serverMaxWindowBits: 10 }, "exceeds"],
    ["permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 10 }, "exceeds"],
  ] as const)("fails the connection on %j (options %j)", (response, options, why) => {
    let error: unknown;
    try {
      acceptDeflateResponse(response, options);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ExtensionNegotiationError);
    // ws's words, and what exactly was wrong.
    const notOffered = why === "more than one" || why === "not offered";
    expect((error as ExtensionNegotiationError).message).toBe(
      notOffered
        ? "Server indicated an extension that was not requested"
        : "Invalid Sec-WebSocket-Extensions header",
    );
    expect((error as ExtensionNegotiationError).detail).toContain(why);
  });

  it("validates user options", () => {
    expect(deflateOptions(undefined)).toBeNull();
    expect(deflateOptions(false)).toBeNull();
    expect(deflateOptions(true)).toEqual({});
    // ws's `clientMaxWindowBits: true`: offered without a value, as unset.
    expect(deflateOptions({ clientMaxWindowBits: true as unknown as number })).toEqual({
      clientMaxWindowBits: undefined,
    });
    expect(() => deflateOptions({ serverMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => deflateOptions({ clientMaxWindowBits: 7 })).toThrow(RangeError);
    expect(() => deflateOptions({ level: 10 })).toThrow(RangeError);
    expect(() => deflateOptions({ memLevel: 0 })).toThrow(RangeError);
  });

  it("takes ws's zlibDeflateOptions level and memLevel (ours win), and accepts ws's other zlib knobs", () => {
    expect(deflateOptions({ zlibDeflateOptions: { level: 1, memLevel: 7 } })).toMatchObject({
      level: 1,
      memLevel: 7,
    });
    expect(deflateOptions({ level: 3, zlibDeflateOptions: { level: 1 } })).toMatchObject({
      level: 3,
      memLevel: undefined,
    });
    // socket.io's documented example, written with ws's names.
    const socketIoExample = {
      threshold: 2048,
      zlibDeflateOptions: { chunkSize: 8 * 1024 },
      zlibInflateOptions: { windowBits: 14, memLevel: 7 },
      clientNoContextTakeover: true,
      serverNoContextTakeover: true,
      serverMaxWindowBits: 10,
      concurrencyLimit: 10,
    };
    expect(deflateOptions(socketIoExample)).toMatchObject({ threshold: 2048, level: undefined });
    expect(() => deflateOptions({ zlibDeflateOptions: { level: 10 } })).toThrow(
      "perMessageDeflate.zlibDeflateOptions.level must be 0-9, got 10",
    );
    expect(() => deflateOptions({ zlibDeflateOptions: { memLevel: 0 } })).toThrow(
      "perMessageDeflate.zlibDeflateOptions.memLevel must be 1-9, got 0",
    );
  });
});

describe("negotiation against ws's PerMessageDeflate", () => {
  const combos: PerMessageDeflateOptions[] = [
    {},
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 10 },
    { clientMaxWindowBits: 9 },
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
    },
  ];

  it.each(combos)("ws accepts our client offer and we accept its response (%j)", (options) => {
    const ws = new WsDeflate({ ...options, isServer: true });
    const offer = buildDeflateOffer(options);
    const accepted = ws.accept(extension.parse(offer)[PERMESSAGE]);
    const response = extension.format({ [PERMESSAGE]: accepted });
    expect(() => acceptDeflateResponse(response, options)).not.toThrow();
  });

  it.each(combos)("ws's client accepts our answer to its offer (%j)", (options) => {
    const ws = new WsDeflate({ ...options, isServer: false });
    const offer = extension.format({ [PERMESSAGE]: ws.offer() });
    const answer = acceptDeflateOffer(offer, options);
    expect(answer).not.toBeNull();
    expect(() => ws.accept(extension.parse(answer!.response)[PERMESSAGE])).not.toThrow();
  });
});

const PERMESSAGE = "permessage-deflate";
