// One connection attempt of a client: the host dials, the engine builds the upgrade request and checks the
// 101, then the session carries frames. It is the `ClientLink` the host reports its socket's events to, and
// it reports to its client (client-core.ts) what the lifecycle (client-lifecycle.ts) needs: socket open,
// 101 accepted or refused, and the session's events.
import { Role } from "../protocol/connection.js";
import { defaults } from "../policies/config.js";
import { heartbeatOptions } from "../policies/heartbeat.js";
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  type PerMessageDeflateOptions,
} from "../protocol/extensions.js";
import {
  buildConnectRequest,
  buildUpgradeRequest,
  parseConnectResponse,
  parseUpgradeResponse,
  type HeaderField,
  type ResponseOptions,
  type UpgradeResponse,
} from "../protocol/handshake.js";
import { PerMessageDeflate, type DeflateCodec } from "../protocol/permessage-deflate.js";
import type { EnginePool, SlotHandle } from "../engine/pool.js";
import { Session, sessionLimits, type SessionEvents, type SessionSocket } from "../protocol/session.js";
import { ReadyState } from "../protocol/ready-state.js";
import type { ClientLink, ClientOptions, WebSocketTarget } from "./client-core.js";

/** What every attempt of one client is made from (fixed for the client's life). */
export interface AttemptSetup {
  target: WebSocketTarget;
  options: ClientOptions;
  /** Subprotocols offered. */
  protocols: string[];
  deflate: PerMessageDeflateOptions | null;
  codec: DeflateCodec | null;
  pool: EnginePool;
  alloc: (size: number) => Uint8Array;
}

/** What an attempt reports to its client: the lifecycle's events, then the session's. */
export interface AttemptReports extends SessionEvents {
  /** The transport is up (the upgrade request goes out next). */
  socketOpen(): void;
  /** A host that sent the request itself (node:http) got this 101 (the "upgrade" event). */
  upgrade(response: unknown): void;
  /** A valid 101: the session is open with this subprotocol and extensions; frames follow. */
  accepted(protocol: string, extensions: string): void;
  /**
   * The opening handshake failed (once per attempt); the socket's close follows. `destroyed`: the attempt
   * destroys the socket itself right after this report (a refused or invalid 101, the timeout), rather than
   * the socket failing or closing by itself.
   */
  refused(error: Error, destroyed: boolean): void;
}

/** The error message of a refused handshake: ws's (the error table's), where ws checks the rule too. */
function handshakeMessage(response: { wsMessage: string; message: string }): string {
  return response.wsMessage || `handshake failed: ${response.message}`;
}

/** Where an attempt is: reading the 101, carrying frames, or refused (later bytes are dropped). */
type Phase = "handshake" | "frames" | "refused";

/** One connection attempt: a slot, the host's socket, the opening handshake, then the session. */
export class ClientConnection implements ClientLink {
  readonly session: Session;
  /** The host's socket (`dial`'s). */
  readonly socket: SessionSocket;
  /** This attempt emitted its 'error' (one per connection, as ws's). */
  errorEmitted = false;
  private readonly setup: AttemptSetup;
  private readonly reports: AttemptReports;
  private readonly handle: SlotHandle;
  private phase: Phase = "handshake";
  /** The application took the answer (`unexpected-response`): what the server sends next is its body, not a head. */
  private responseTaken = false;
  /** The response head so far (it may come in pieces). */
  private head = new Uint8Array(0);
  private request: Uint8Array | undefined;
  private readonly timer: ReturnType<typeof setTimeout>;

  /** Dial at once: `dial` opens the host's socket and reports its events to this link, never synchronously. */
  constructor(setup: AttemptSetup, reports: AttemptReports, dial: (link: ClientLink) => SessionSocket) {
    this.setup = setup;
    this.reports = reports;
    const { options, pool } = setup;
    this.handle = pool.acquire();
    const socket = dial(this);
    this.socket = socket;
    this.session = new Session(
      socket,
      pool,
      this.handle,
      {
        role: Role.Client,
        maxPayload: options.maxPayload ?? defaults.maxPayload,
        maxFragments: options.maxFragments ?? defaults.maxFragments,
        autoPong: options.autoPong ?? true,
        generateMask: options.generateMask,
        fragments: options.fragments ?? "message",
        heartbeat: heartbeatOptions(options.heartbeat, defaults.clientHeartbeat),
        ...sessionLimits(options),
      },
      reports,
      setup.alloc,
    );
    this.timer = setTimeout(
      () => this.refuse(new Error("Opening handshake has timed out"), true),
      options.handshakeTimeout ?? defaults.handshakeTimeout,
    );
  }

  get readBuffer(): Uint8Array {
    return this.session.readBuffer;
  }

  upgradeRequest(): Uint8Array {
    const { target } = this.setup;
    return (this.request ??= buildUpgradeRequest(this.handle.engine, this.handle.slot, {
      host: target.host,
      path: target.path,
      protocols: this.setup.protocols,
      headers: this.requestHeaders(this.setup.options.headers),
    }));
  }

  connectRequest(headers?: Record<string, string>): HeaderField[] {
    const { target, options } = this.setup;
    return buildConnectRequest(this.handle.engine, {
      secure: target.secure,
      host: target.host,
      path: target.path,
      protocols: this.setup.protocols,
      headers: this.requestHeaders(headers ?? options.headers),
    });
  }

  /** The request's own header fields: the extension offer, Origin and the application's `headers`. */
  private requestHeaders(headers: Record<string, string> | undefined): Record<string, string> {
    const { options, deflate } = this.setup;
    return {
      ...(deflate ? { "Sec-WebSocket-Extensions": buildDeflateOffer(deflate) } : {}),
      ...(options.origin ? { Origin: options.origin } : {}),
      ...headers,
    };
  }

  connected(): void {
    this.reports.socketOpen();
    if (this.phase === "handshake") this.session.writeRaw(this.upgradeRequest());
  }

  upgrade(response: unknown): void {
    this.reports.upgrade(response);
  }

  handedOver(): void {
    clearTimeout(this.timer);
    this.responseTaken = true;
  }

  receive(bytes: Uint8Array): void {
    if (this.phase === "frames") this.session.receive(bytes);
    else if (this.phase === "handshake" && !this.responseTaken) this.response(bytes);
  }

  receiveInPlace(length: number): void {
    if (this.phase === "frames") this.session.receiveInPlace(length);
    else if (this.phase === "handshake" && !this.responseTaken)
      this.response(this.session.readBuffer.subarray(0, length));
  }

  connectResponse(status: number, headers: HeaderField[]): void {
    if (this.phase !== "handshake") return;
    const { engine } = this.handle;
    const response = parseConnectResponse(
      engine,
      status,
      headers,
      this.setup.protocols,
      this.responseOptions(),
    );
    this.settle(response, new Uint8Array(0));
  }

  /** How the engine checks the server's answer. */
  private responseOptions(): ResponseOptions {
    return {
      maxHeaderBytes: this.setup.options.maxHeaderSize ?? defaults.maxHeaderSize,
      extensionsOffered: this.setup.deflate !== null,
    };
  }

  drain(): void {
    this.session.onDrain();
  }

  end(): void {
    this.session.onEnd();
  }

  closed(): void {
    // The server hung up before its 101 was complete: that fails the connection too (WHATWG).
    this.refuse(new Error("connection closed before the opening handshake completed"), false);
    this.session.onClose();
  }

  error(error: Error): void {
    this.refuse(error, false);
  }

  /** More of the response head: once complete, the engine's verdict on it. */
  private response(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.head.length + chunk.length);
    joined.set(this.head);
    joined.set(chunk, this.head.length);
    this.head = joined;
    const response = parseUpgradeResponse(
      this.handle.engine,
      this.handle.slot,
      joined,
      this.setup.protocols,
      this.responseOptions(),
    );
    if (!response) return;
    this.head = new Uint8Array(0);
    this.settle(response, joined.subarray(response.headEnd));
  }

  /** The engine's verdict on the server's answer: open (`early`: frames read with it) or refuse. */
  private settle(response: UpgradeResponse, early: Uint8Array): void {
    const { options, deflate } = this.setup;
    if (!response.ok) return this.refuse(new Error(handshakeMessage(response)), true);
    let extensions = "";
    if (deflate) {
      let negotiated;
      try {
        negotiated = acceptDeflateResponse(response.extensions, deflate);
      } catch (error) {
        return this.refuse(error as Error, true);
      }
      if (negotiated) {
        const maxPayload = options.maxPayload ?? defaults.maxPayload;
        this.session.wire.useDeflate(
          new PerMessageDeflate(negotiated.session, this.setup.codec!, { ...deflate, maxPayload }),
        );
        extensions = response.extensions;
      }
    }
    clearTimeout(this.timer);
    this.phase = "frames";
    this.session.start();
    this.reports.accepted(response.protocol, extensions);
    // Frames that came in the same read as the 101 follow the open event.
    if (early.length > 0) {
      this.session.socket.readWithHandshake?.(early);
      this.session.receive(early);
    }
  }

  /** The handshake failed: reported once; `destroy` the socket unless it is closing by itself. */
  private refuse(error: Error, destroy: boolean): void {
    if (this.phase !== "handshake") return;
    this.phase = "refused";
    clearTimeout(this.timer);
    this.head = new Uint8Array(0);
    this.reports.refused(error, destroy);
    if (destroy && this.session.readyState === ReadyState.CONNECTING) this.session.terminate();
  }
}
