// Pub/sub across processes and machines through Redis (docs/PUBSUB.md). Every server that uses the same
// Redis and prefix shares topics and broadcasts. A publish is delivered to the local subscribers at once,
// then sent to Redis on one connection, so each publisher's messages keep their order everywhere; each
// process skips its own messages when Redis echoes them, so nobody gets one twice. Channels: one per
// topic with a local subscriber (SUBSCRIBE on the first, UNSUBSCRIBE after the last) and one for broadcasts.
//
// Outages: publishing never queues while Redis is unreachable: the message still reaches this process's
// subscribers, is counted in `stats.dropped` for the others, and reported as "error". Nothing is resent
// after a reconnect, so a message is never delivered twice nor late out of order (at most once).
import { defaults } from "../bindings/policies/config.js";
import { Emitter } from "../bindings/api/emitter.js";
import { InProcessAdapter, type PubSubHub } from "../bindings/protocol/pubsub.js";

/** The part of an ioredis client the adapter uses (ioredis ≥ 5 has it; node-redis does not). */
export interface RedisClientLike {
  publish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Options of `RedisAdapter`. */
export interface RedisAdapterOptions {
  /** The connection that publishes. Create it with `enableOfflineQueue: false` and
   * `autoResendUnfulfilledCommands: false` (as `createRedisAdapter` does) for the at-most-once rule. */
  pub: RedisClientLike;
  /** A second connection, used only for SUBSCRIBE (Redis puts it in subscriber mode). */
  sub: RedisClientLike;
  /** Channel name prefix: servers with the same prefix share topics (default "wasmsocket:"). */
  prefix?: string;
  /** Quit both connections on `close()` (default false: they are yours). */
  ownsClients?: boolean;
}

/** Counters for monitoring. */
export interface RedisAdapterStats {
  /** Messages Redis took from this process. */
  published: number;
  /** Messages not sent to Redis (it was unreachable); local subscribers still got them. */
  dropped: number;
  /** Messages from other processes delivered here. */
  received: number;
}

/** Events of a RedisAdapter. */
export interface RedisAdapterEvents {
  /** A publish Redis did not take, or a (un)subscribe that failed. Not thrown when nobody listens. */
  error: [error: Error];
}

const VERSION = 1;
const FLAG_BINARY = 1;
/** The publisher asked for no compression (`compress: false`). */
const FLAG_UNCOMPRESSED = 2;
const ORIGIN_BYTES = 8;
const HEADER_BYTES = 2 + ORIGIN_BYTES;

/** The topics and broadcasts of servers in every process that uses the same Redis. */
export class RedisAdapter extends InProcessAdapter {
  readonly stats: RedisAdapterStats = { published: 0, dropped: 0, received: 0 };
  private readonly events = new Emitter<RedisAdapterEvents>();
  private readonly pub: RedisClientLike;
  private readonly sub: RedisClientLike;
  private readonly prefix: string;
  private readonly broadcastChannel: string;
  private readonly ownsClients: boolean;
  private readonly origin: Buffer;
  // Local subscribers per topic across the attached servers: SUBSCRIBE at the first, UNSUBSCRIBE at 0.
  private readonly topicRefs = new Map<string, number>();
  private pendingCommands: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly onMessage = (channel: Buffer, message: Buffer): void => this.receive(channel, message);

  constructor(options: RedisAdapterOptions) {
    super();
    this.pub = options.pub;
    this.sub = options.sub;
    this.prefix = options.prefix ?? "wasmsocket:";
    this.broadcastChannel = `${this.prefix}all`;
    this.ownsClients = options.ownsClients ?? false;
    this.origin = Buffer.from(crypto.getRandomValues(new Uint8Array(ORIGIN_BYTES)));
    this.sub.on("messageBuffer", this.onMessage as (...args: never[]) => void);
    if (this.ownsClients) {
      // Connection errors of our own clients: ioredis reconnects by itself; report them as "error".
      const onError = ((error: Error) => this.report(error, "connection")) as (...args: never[]) => void;
      this.pub.on("error", onError);
      this.sub.on("error", onError);
    }
    this.command(this.sub.subscribe(this.broadcastChannel), "SUBSCRIBE");
  }

  /** Listen for "error" (failed publishes and subscriptions; they are only counted when nobody listens). */
  on(event: "error", listener: (error: Error) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: "error", listener: (error: Error) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Resolves once Redis has answered every SUBSCRIBE/UNSUBSCRIBE asked so far (or they failed). */
  settled(): Promise<void> {
    return this.pendingCommands.then(() => undefined);
  }

  override subscribed(_hub: PubSubHub, topic: string): void {
    const refs = this.topicRefs.get(topic) ?? 0;
    this.topicRefs.set(topic, refs + 1);
    if (refs === 0 && !this.closed) this.command(this.sub.subscribe(this.channel(topic)), "SUBSCRIBE");
  }

  override unsubscribed(_hub: PubSubHub, topic: string): void {
    const refs = (this.topicRefs.get(topic) ?? 0) - 1;
    if (refs > 0) return void this.topicRefs.set(topic, refs);
    this.topicRefs.delete(topic);
    if (!this.closed) this.command(this.sub.unsubscribe(this.channel(topic)), "UNSUBSCRIBE");
  }

  override publish(
    origin: PubSubHub | null,
    topic: string | null,
    payload: Uint8Array,
    binary: boolean,
    compress: boolean,
  ): void {
    super.publish(origin, topic, payload, binary, compress);
    if (this.closed) return;
    const message = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    message[0] = VERSION;
    message[1] = (binary ? FLAG_BINARY : 0) | (compress ? 0 : FLAG_UNCOMPRESSED);
    this.origin.copy(message, 2);
    message.set(payload, HEADER_BYTES);
    const channel = topic === null ? this.broadcastChannel : this.channel(topic);
    let sent: Promise<unknown>;
    try {
      sent = this.pub.publish(channel, message);
    } catch (error) {
      return this.drop(error);
    }
    sent.then(
      () => this.stats.published++,
      (error: unknown) => this.drop(error),
    );
  }

  /** Stop: unsubscribe from everything; quit the connections if `ownsClients`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub.off("messageBuffer", this.onMessage as (...args: never[]) => void);
    if (!this.ownsClients) {
      const channels = [this.broadcastChannel, ...[...this.topicRefs.keys()].map((t) => this.channel(t))];
      await this.sub.unsubscribe(...channels).catch(() => {});
      return;
    }
    await Promise.all([quit(this.pub), quit(this.sub)]);
  }

  private channel(topic: string): string {
    return `${this.prefix}t:${topic}`;
  }

  private receive(channel: Buffer, message: Buffer): void {
    if (message.length < HEADER_BYTES || message[0] !== VERSION) return;
    // Our own message, echoed: its local delivery was done when it was published.
    if (message.compare(this.origin, 0, ORIGIN_BYTES, 2, HEADER_BYTES) === 0) return;
    const name = channel.toString();
    let topic: string | null;
    if (name === this.broadcastChannel) topic = null;
    else if (name.startsWith(`${this.prefix}t:`)) topic = name.slice(this.prefix.length + 2);
    else return;
    this.stats.received++;
    const payload = message.subarray(HEADER_BYTES);
    const binary = (message[1] & FLAG_BINARY) !== 0;
    const compress = (message[1] & FLAG_UNCOMPRESSED) === 0;
    for (const hub of this.hubs) hub.deliver(topic, payload, binary, compress);
  }

  private command(promise: Promise<unknown>, what: string): void {
    const done = promise.catch((error: unknown) => this.report(error, `${what} failed`));
    this.pendingCommands = Promise.all([this.pendingCommands, done]);
  }

  private drop(error: unknown): void {
    this.stats.dropped++;
    this.report(error, "publish not sent to Redis (delivered locally only)");
  }

  private report(error: unknown, what: string): void {
    if (this.events.listenerCount("error") === 0) return;
    const message = error instanceof Error ? error.message : String(error);
    this.events.emit("error", new Error(`RedisAdapter: ${what}: ${message}`));
  }
}

async function quit(client: RedisClientLike): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** Options of `createRedisAdapter`. */
export interface CreateRedisAdapterOptions {
  /** Redis URL (default "redis://127.0.0.1:6379"). */
  url?: string;
  /** Channel name prefix (default "wasmsocket:"). */
  prefix?: string;
  /** Extra ioredis options for both connections. */
  redisOptions?: Record<string, unknown>;
  /** Ms to wait for Redis at start before rejecting (default 10 000). */
  connectTimeout?: number;
}

/**
 * A RedisAdapter over two new ioredis connections (ioredis is an optional peer dependency: install it),
 * set up for the at-most-once rule; resolves once both are connected and subscribed. `close()` quits them.
 */
export async function createRedisAdapter(options: CreateRedisAdapterOptions = {}): Promise<RedisAdapter> {
  const { Redis } = (await import("ioredis")) as unknown as {
    Redis: new (url: string, options: Record<string, unknown>) => RedisClientLike;
  };
  const url = options.url ?? "redis://127.0.0.1:6379";
  const common = { lazyConnect: false, ...options.redisOptions };
  const pub = new Redis(url, {
    ...common,
    // Never queue or resend a publish: a message is delivered at most once, in order.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // One write per tick for a burst of publishes.
    enableAutoPipelining: true,
  });
  // SUBSCRIBE waits for Redis; after a reconnect ioredis subscribes to every channel again by itself.
  const sub = new Redis(url, { ...common, autoResubscribe: true });
  const adapter = new RedisAdapter({ pub, sub, prefix: options.prefix, ownsClients: true });
  const ms = options.connectTimeout ?? defaults.redisConnectTimeout;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`createRedisAdapter: no Redis at ${url} within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.all([ready(pub), ready(sub), adapter.settled()]), timeout]);
  } catch (error) {
    pub.disconnect();
    sub.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return adapter;
}

/** Resolves once an ioredis client is connected. */
function ready(client: RedisClientLike): Promise<void> {
  if ((client as { status?: string }).status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const onReady = () => {
      client.off("ready", onReady);
      resolve();
    };
    client.on("ready", onReady);
  });
}
