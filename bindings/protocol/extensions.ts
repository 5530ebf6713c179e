// Sec-WebSocket-Extensions (RFC 6455 §9.1) and the permessage-deflate negotiation (RFC 7692 §7.1) for both
// ends: parse offers and responses, choose an offer as a server, build the header values, and turn the
// agreed parameters into what each end's compressor and decompressor use. String work, any runtime; which
// characters make a token is the engine's table (bindings/engine/rules.ts).
import { isToken, tokenLength } from "../engine/rules.js";

/** The extension token of permessage-deflate. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** One element of a Sec-WebSocket-Extensions value: a name and its parameters in order. */
export interface ExtensionElement {
  name: string;
  /** [name, value] pairs; `true` for a parameter without a value. Names are lower-cased. */
  params: Array<[string, string | true]>;
}

/** A parsed element, or why it is malformed (its text is kept for the message). */
export type ParsedElement = ExtensionElement | { error: string; text: string };

/** Scans one header value by the §9.1 grammar: elements split by commas, parameters by semicolons. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  skipSpace(): void {
    while (this.pos < this.text.length && (this.text[this.pos] === " " || this.text[this.pos] === "\t"))
      this.pos++;
  }
  peek(): string {
    return this.text[this.pos] ?? "";
  }
  token(): string {
    const start = this.pos;
    this.pos += tokenLength(this.text, start);
    return this.text.slice(start, this.pos);
  }
  /** A quoted-string's unescaped content, or null when it is not closed. */
  quoted(): string | null {
    let value = "";
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos];
      if (c === '"') {
        this.pos++;
        return value;
      }
      if (c === "\\") this.pos++;
      if (this.pos < this.text.length) value += this.text[this.pos];
    }
    return null;
  }
  /** Move past the next comma outside quotes (after a malformed element). */
  skipElement(): void {
    let quoted = false;
    for (; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos];
      if (quoted && c === "\\") this.pos++;
      else if (c === '"') quoted = !quoted;
      else if (c === "," && !quoted) return;
    }
  }
}

function parseElement(scan: Scanner): ExtensionElement | string {
  const name = scan.token();
  if (!name) return "expected an extension token";
  const params: ExtensionElement["params"] = [];
  scan.skipSpace();
  while (scan.peek() === ";") {
    scan.pos++;
    scan.skipSpace();
    const param = scan.token().toLowerCase();
    if (!param) return "expected a parameter name after ';'";
    scan.skipSpace();
    let value: string | true = true;
    if (scan.peek() === "=") {
      scan.pos++;
      scan.skipSpace();
      const quoted = scan.peek() === '"';
      const raw = quoted ? scan.quoted() : scan.token();
      if (raw === null) return `unterminated quoted value of ${param}`;
      // §9.1: a quoted value must still be a token once unescaped.
      if (!raw || !isToken(raw)) return `value of ${param} is not a token`;
      value = raw;
      scan.skipSpace();
    }
    params.push([param, value]);
  }
  if (!scan.done && scan.peek() !== ",") return `unexpected ${JSON.stringify(scan.peek())}`;
  return { name: name.toLowerCase(), params };
}

/**
 * Parse Sec-WebSocket-Extensions values (several header lines may be given, or one joined with ", ").
 * Empty list elements are skipped; a malformed element is returned as an error and parsing goes on.
 */
export function parseExtensions(values: string | string[]): ParsedElement[] {
  const elements: ParsedElement[] = [];
  for (const value of typeof values === "string" ? [values] : values) {
    const scan = new Scanner(value);
    while (!scan.done) {
      scan.skipSpace();
      if (scan.peek() === ",") {
        scan.pos++;
        continue;
      }
      if (scan.done) break;
      const start = scan.pos;
      const element = parseElement(scan);
      if (typeof element === "string") {
        scan.skipElement();
        elements.push({ error: element, text: value.slice(start, scan.pos).trim() });
      } else elements.push(element);
      if (scan.peek() === ",") scan.pos++;
    }
  }
  return elements;
}

/** permessage-deflate parameters as agreed (RFC 7692 §7.1); window bits absent means 15. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8-15, or undefined when not given. */
  serverMaxWindowBits?: number;
  /** 8-15, `true` when given without a value (offers only), or undefined. */
  clientMaxWindowBits?: number | true;
}

const WINDOW_BITS = /^(8|9|1[0-5])$/;

/** Read one element's parameters as permessage-deflate ones; a string says which rule they break. */
export function deflateParams(element: ExtensionElement, isOffer: boolean): DeflateParams | string {
  const params: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false };
  const seen = new Set<string>();
  for (const [name, value] of element.params) {
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${name} takes no value`;
        if (name === "server_no_context_takeover") params.serverNoContextTakeover = true;
        else params.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        if (value === true || !WINDOW_BITS.test(value)) return `${name} must be 8-15`;
        params.serverMaxWindowBits = Number(value);
        break;
      case "client_max_window_bits":
        if (value === true && !isOffer) return `${name} needs a value in a response`;
        if (value !== true && !WINDOW_BITS.test(value)) return `${name} must be 8-15`;
        params.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return params;
}

/** Options of permessage-deflate, for a server (its accept policy) or a client (its offer). */
export interface PerMessageDeflateOptions {
  /**
   * Server: answer with server_no_context_takeover even when not asked (the server's messages are then
   * compressed alone, and it keeps no history for them). Client: ask the server for it.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: answer with client_no_context_takeover (the server then keeps no history for inflating).
   * Client: offer it (the client compresses each message alone).
   */
  clientNoContextTakeover?: boolean;
  /** Server: the largest window its compressor uses (9-15). Client: ask the server for at most this. */
  serverMaxWindowBits?: number;
  /**
   * Server: limit the client's window to this (only when the client's offer allows, RFC 7692 §7.1.2.2);
   * smaller windows mean less history kept per connection. Client: offer this limit for its own window
   * (unset, or `true` as ws takes it: offer client_max_window_bits without a value, the server chooses).
   */
  clientMaxWindowBits?: number;
  /** Messages shorter than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** zlib compression level 0-9 (default 5: nearly level 6's ratio, faster; docs/DEFLATE.md). */
  level?: number;
  /** zlib memLevel 1-9 (default 8). */
  memLevel?: number;
  /**
   * With context takeover on the sending side, how many bytes of earlier messages the compressor may
   * refer to (default 4096, at most the window). More: better ratio for small similar messages, more CPU
   * and memory per connection.
   */
  historyBytes?: number;
  /**
   * `ws`'s name for the compressor's zlib options: its `level` and `memLevel` are used where `level` and
   * `memLevel` are not given. Its other fields (`chunkSize`, `windowBits`, `strategy`...) are not used: the
   * window is the negotiated one, as in `ws`.
   */
  zlibDeflateOptions?: { level?: number; memLevel?: number; [option: string]: unknown };
  /** `ws`'s inflate options: accepted, not used (the window is the negotiated one, as in `ws`). */
  zlibInflateOptions?: object;
  /** `ws`'s limit of concurrent zlib jobs: accepted, not used (up to 64 KiB a message is one synchronous call). */
  concurrencyLimit?: number;
}

function checkBits(name: string, bits: number | undefined, min: number): void {
  if (bits !== undefined && !(Number.isInteger(bits) && bits >= min && bits <= 15))
    throw new RangeError(`perMessageDeflate.${name} must be an integer ${min}-15, got ${bits}`);
}

/** Validate user options (RangeError on a bad one); returns them with `true` read as {}. */
export function deflateOptions(
  options: boolean | PerMessageDeflateOptions | undefined,
): PerMessageDeflateOptions | null {
  if (!options) return null;
  let resolved = options === true ? {} : options;
  // ws takes `true` for "offer it without a value", which is what leaving it unset does here.
  if ((resolved.clientMaxWindowBits as unknown) === true)
    resolved = { ...resolved, clientMaxWindowBits: undefined };
  checkBits("serverMaxWindowBits", resolved.serverMaxWindowBits, 8);
  checkBits("clientMaxWindowBits", resolved.clientMaxWindowBits, 8);
  checkZlib("level", resolved.level);
  checkZlib("memLevel", resolved.memLevel);
  // ws's names for them (options written for ws, e.g. socket.io's documented perMessageDeflate): ours win.
  const zlib = resolved.zlibDeflateOptions;
  if (zlib) {
    checkZlib("zlibDeflateOptions.level", zlib.level);
    checkZlib("zlibDeflateOptions.memLevel", zlib.memLevel);
    resolved = {
      ...resolved,
      level: resolved.level ?? zlib.level,
      memLevel: resolved.memLevel ?? zlib.memLevel,
    };
  }
  return resolved;
}

/** zlib's ranges: level 0-9, memLevel 1-9 (RangeError naming the option). */
function checkZlib(name: string, value: number | undefined): void {
  const min = name.endsWith("memLevel") ? 1 : 0;
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= 9))
    throw new RangeError(`perMessageDeflate.${name} must be ${min}-9, got ${value}`);
}

/** What one end does with its messages, from that end's point of view. */
export interface DeflateSession {
  /** Our compressor starts afresh for each message. */
  sendNoContextTakeover: boolean;
  /** Largest window our compressor may use (8-15). */
  sendWindowBits: number;
  /** The peer compresses each message alone: we keep no history for inflating. */
  receiveNoContextTakeover: boolean;
  /** Largest window the peer's compressor may use: the history we keep (8-15). */
  receiveWindowBits: number;
}

/** A server's choice: the response value and the session it sets up. */
export interface DeflateAcceptance {
  response: string;
  params: DeflateParams;
  session: DeflateSession;
}

/** The response parameters a server answers one valid offer with. */
function answerOffer(offer: DeflateParams, policy: PerMessageDeflateOptions): DeflateParams {
  const answer: DeflateParams = {
    serverNoContextTakeover: offer.serverNoContextTakeover || !!policy.serverNoContextTakeover,
    // Echoing the client's hint costs nothing and lets us keep no inflate history.
    clientNoContextTakeover: offer.clientNoContextTakeover || !!policy.clientNoContextTakeover,
  };
  const serverBits = Math.min(offer.serverMaxWindowBits ?? 15, policy.serverMaxWindowBits ?? 15);
  if (offer.serverMaxWindowBits !== undefined || policy.serverMaxWindowBits !== undefined)
    answer.serverMaxWindowBits = serverBits;
  // §7.1.2.2: client_max_window_bits may be answered only when offered.
  if (offer.clientMaxWindowBits !== undefined) {
    const offered = offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits;
    const limit = Math.min(offered, policy.clientMaxWindowBits ?? 15);
    if (limit < 15 || offer.clientMaxWindowBits !== true) answer.clientMaxWindowBits = limit;
  }
  return answer;
}

/** The Sec-WebSocket-Extensions value for permessage-deflate `params`. */
export function formatDeflate(params: DeflateParams): string {
  let value = PERMESSAGE_DEFLATE;
  if (params.serverNoContextTakeover) value += "; server_no_context_takeover";
  if (params.clientNoContextTakeover) value += "; client_no_context_takeover";
  if (params.serverMaxWindowBits !== undefined)
    value += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  if (params.clientMaxWindowBits === true) value += "; client_max_window_bits";
  else if (params.clientMaxWindowBits !== undefined)
    value += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  return value;
}

/** The session a server runs after answering with `answer`. */
function serverSession(answer: DeflateParams): DeflateSession {
  const clientBits = answer.clientMaxWindowBits;
  return {
    sendNoContextTakeover: answer.serverNoContextTakeover,
    sendWindowBits: answer.serverMaxWindowBits ?? 15,
    receiveNoContextTakeover: answer.clientNoContextTakeover,
    receiveWindowBits: typeof clientBits === "number" ? clientBits : 15,
  };
}

/**
 * Server side: choose the first acceptable permessage-deflate offer in the client's header value(s) and
 * answer it by `policy`; null when there is none (malformed offers and offers with unknown, duplicate or
 * out-of-range parameters are declined and the next one is tried).
 */
export function acceptDeflateOffer(
  header: string | string[] | undefined,
  policy: PerMessageDeflateOptions,
): DeflateAcceptance | null {
  if (!header || header.length === 0) return null;
  for (const element of parseExtensions(header)) {
    if ("error" in element || element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = deflateParams(element, true);
    if (typeof offer === "string") continue;
    const params = answerOffer(offer, policy);
    return { response: formatDeflate(params), params, session: serverSession(params) };
  }
  return null;
}

/**
 * What makes a client's Sec-WebSocket-Extensions unacceptable to a server with permessage-deflate on (ws
 * refuses it with 400): a malformed element, or permessage-deflate offers of which none is valid (unknown,
 * repeated or invalid parameters). An invalid offer followed by a valid one is declined and the valid one
 * taken, as RFC 7692 §7.1 says (`acceptDeflateOffer`). "" when there is nothing wrong.
 */
export function deflateOfferError(header: string | string[]): string {
  let invalid = "";
  for (const element of parseExtensions(header)) {
    if ("error" in element) return `${element.error} in "${element.text}"`;
    if (element.name !== PERMESSAGE_DEFLATE) continue;
    const offer = deflateParams(element, true);
    if (typeof offer !== "string") return "";
    invalid ||= offer;
  }
  return invalid;
}

/** Client side: the offer to send for `options`. */
export function buildDeflateOffer(options: PerMessageDeflateOptions): string {
  return formatDeflate({
    serverNoContextTakeover: !!options.serverNoContextTakeover,
    clientNoContextTakeover: !!options.clientNoContextTakeover,
    serverMaxWindowBits: options.serverMaxWindowBits,
    // Valueless by default, as browsers send it: the server may then limit our window.
    clientMaxWindowBits: options.clientMaxWindowBits ?? true,
  });
}

/** ws's words for a response the client fails: an extension it did not offer, or an invalid value. */
const NOT_REQUESTED = "Server indicated an extension that was not requested";
const INVALID_EXTENSIONS = "Invalid Sec-WebSocket-Extensions header";

/**
 * The server's Sec-WebSocket-Extensions broke a rule: the client fails the connection (RFC 6455 §4.1).
 * The message is ws's for the case; `detail` says what exactly was wrong.
 */
export class ExtensionNegotiationError extends Error {
  readonly detail: string;
  constructor(detail: string, message = INVALID_EXTENSIONS) {
    super(message);
    this.name = "ExtensionNegotiationError";
    this.detail = detail;
  }
}

/**
 * Client side: check the server's response to our offer (built from `options`): null when the server
 * declined (no extensions), the session otherwise; throws ExtensionNegotiationError when the response is
 * invalid (malformed, an extension not offered, more than one, or parameters the offer does not allow).
 */
export function acceptDeflateResponse(
  header: string | string[] | undefined,
  options: PerMessageDeflateOptions,
): { params: DeflateParams; session: DeflateSession } | null {
  if (header === undefined || header.length === 0) return null;
  const elements = parseExtensions(header);
  if (elements.length === 0) return null;
  const element = elements[0];
  if (elements.some((e) => "error" in e)) {
    const bad = elements.find((e) => "error" in e) as { error: string; text: string };
    throw new ExtensionNegotiationError(`${bad.error} in "${bad.text}"`);
  }
  if (elements.length > 1)
    throw new ExtensionNegotiationError("more than one extension accepted", NOT_REQUESTED);
  if ("error" in element) throw new ExtensionNegotiationError(`${element.error} in "${element.text}"`);
  if (element.name !== PERMESSAGE_DEFLATE)
    throw new ExtensionNegotiationError(
      `server accepted ${element.name}, which was not offered`,
      NOT_REQUESTED,
    );
  const params = deflateParams(element, false);
  if (typeof params === "string") throw new ExtensionNegotiationError(params);
  if (options.serverNoContextTakeover && !params.serverNoContextTakeover)
    throw new ExtensionNegotiationError("server_no_context_takeover was requested and not answered");
  const askedServerBits = options.serverMaxWindowBits;
  if (askedServerBits !== undefined) {
    if (params.serverMaxWindowBits === undefined)
      throw new ExtensionNegotiationError("server_max_window_bits was requested and not answered");
    if (params.serverMaxWindowBits > askedServerBits)
      throw new ExtensionNegotiationError(
        `server_max_window_bits=${params.serverMaxWindowBits} exceeds the ${askedServerBits} offered`,
      );
  }
  const clientBits = params.clientMaxWindowBits;
  const offeredBits = options.clientMaxWindowBits ?? 15;
  if (typeof clientBits === "number" && clientBits > offeredBits)
    throw new ExtensionNegotiationError(
      `client_max_window_bits=${clientBits} exceeds the ${offeredBits} offered`,
    );
  return {
    params,
    session: {
      sendNoContextTakeover: params.clientNoContextTakeover || !!options.clientNoContextTakeover,
      sendWindowBits: typeof clientBits === "number" ? clientBits : offeredBits,
      receiveNoContextTakeover: params.serverNoContextTakeover,
      receiveWindowBits: params.serverMaxWindowBits ?? 15,
    },
  };
}
