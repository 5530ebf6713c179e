// One configuration: every limit and default of the TypeScript side, defined and documented once (as
// tungstenite's WebSocketConfig and its Default). Servers, clients, sessions and policies read their defaults
// here; README "Safe defaults" and the option tables of docs/NODE.md and docs/DEFLATE.md show these values, and
// test/bindings/config.test.ts fails when they drift. The engine's own numbers (frame and control limits, build sizes) come from the
// generated ABI (bindings/engine/abi.ts), never from here.
import { BUILD, SLOT_BYTES } from "../engine/abi.js";

/** Object.freeze without its literal types (a default of 10 must not make the field's type `10`). */
const frozen = <T extends object>(value: T): Readonly<T> => Object.freeze(value);

const KiB = 1024;
const MiB = 1024 * KiB;

/** Defaults of the engine instances a pool creates, per build (EngineOptions). */
export interface EngineDefaults {
  /** Connection slots in one instance. */
  readonly maxConnections: number;
  /** Bytes of the I/O area the host reads into and writes frames from. */
  readonly ioBytes: number;
}

/** The `mvp` build's instance fills its static pool (BUILD.mvp.POOL_BYTES): 4 slots and the rest as I/O. */
const MVP_CONNECTIONS = 4;
const MVP_IO_BYTES = (BUILD.mvp.POOL_BYTES - MVP_CONNECTIONS * SLOT_BYTES) & ~(4 * KiB - 1);

/** Every default, frozen. Options name the same fields; a user's option replaces the default. */
export const defaults = frozen({
  /** Largest message accepted, bytes (whole, after reassembly); past it the peer is closed with 1009. */
  maxPayload: 16 * MiB,
  /**
   * Most frames one message may come in, empty ones too (ws's `maxFragments`, counted as ws 8.23 counts); past it
   * the peer is closed with 1008. 0: no limit. 131 072 as ws 8.21, not 8.23's 16 384: Autobahn's case 9.3.1
   * sends a 4 MiB message in 65 536 frames. A message is assembled in one buffer: the bound is on work, not memory.
   */
  maxFragments: 131_072,
  /** Longest handshake head (request or 101 response), bytes; past it a server answers 431, a client fails. */
  maxHeaderSize: 16 * KiB,
  /** Ms for a client's connect + opening handshake, or for a peer to send its upgrade request to our server. */
  handshakeTimeout: 10_000,
  /** Ms to wait for the peer's close reply, then for its FIN, before destroying the socket. */
  closeTimeout: 10_000,
  /** bufferedAmount at which a `drain` is owed, bytes. */
  highWaterMark: 64 * KiB,
  /** Smallest highWaterMark honored, bytes (a lower option is raised to it). */
  minHighWaterMark: 16 * KiB,
  /** Queued bytes beyond which a send fails the connection with 1008. */
  maxBufferedAmount: 32 * MiB,
  /** Ms a server waits on a peer that reads nothing while its output is stalled at the high-water mark, then 1008. */
  stallTimeout: 30_000,
  /** Split every sent message into frames of at most this many bytes; 0: never. */
  maxFragmentSize: 0,
  /** Open connections a server accepts; the next handshake gets 503. */
  maxClients: Infinity,
  /** HTTP status of a refusal by `verifyClient` that names none. */
  refusalStatus: 401,
  /** Messages a client holds while reconnecting; beyond, `send` throws a RangeError. */
  maxQueued: 1024,
  /** Heartbeat timing: ms of silence before a ping, then ms without any frame before the peer is dead. */
  heartbeat: frozen({ interval: 30_000, timeout: 10_000 }),
  /** Whether a server runs the heartbeat when its options do not say. */
  serverHeartbeat: true,
  /** Whether a client runs the heartbeat when its options do not say. */
  clientHeartbeat: false,
  /** Whether a client offers permessage-deflate when its options do not say (as ws's client does). */
  clientPerMessageDeflate: true,
  /** Reconnect backoff: first delay and cap (ms), growth per attempt, random fraction, retries, ms up that resets them. */
  reconnect: frozen({
    minDelay: 500,
    maxDelay: 30_000,
    factor: 2,
    jitter: 0.5,
    maxRetries: Infinity,
    minUptime: 5_000,
  }),
  /**
   * permessage-deflate tuning: messages shorter than `threshold` bytes go uncompressed; `historyBytes` of
   * context the compressor may refer to; zlib `level` 5 (1.5× faster than 6 on JSON-like text for 0.5-1%
   * more bytes, docs/DEFLATE.md) and `memLevel`.
   */
  deflate: frozen({ threshold: 1024, historyBytes: 4 * KiB, level: 5, memLevel: 8 }),
  /** Ms an `Http2Agent` keeps a session open once its last WebSocket over HTTP/2 has closed (0: closes at once). */
  http2IdleTimeout: 5_000,
  /** Listeners per event before an emitter warns of a likely leak (Node's EventEmitter default). */
  maxListeners: 10,
  /** Ms `createRedisAdapter` waits for Redis at start before rejecting. */
  redisConnectTimeout: 10_000,
  /**
   * Engine instance sizes per build: simd for servers with many peers (its I/O area's thirds are 128 KiB,
   * so a socket read takes a 64 KiB message's frame whole), mvp within its static pool.
   */
  engine: frozen({
    simd: frozen<EngineDefaults>({ maxConnections: 1024, ioBytes: 384 * KiB }),
    mvp: frozen<EngineDefaults>({ maxConnections: MVP_CONNECTIONS, ioBytes: MVP_IO_BYTES }),
  }),
});

/** The configuration's shape: every field of `defaults`. */
export type WebSocketConfig = typeof defaults;
