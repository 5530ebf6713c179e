// Connection slots across engine instances: a new instance is made when every slot is taken, so the
// number of connections is bounded by memory, not by one instance's slot table.
import { createEngine } from "./embedded.js";
import type { Engine, EngineBuild, EngineOptions } from "./engine.js";

/** A slot in one engine instance. */
export interface SlotHandle {
  readonly engine: Engine;
  readonly slot: number;
}

/** Hands out connection slots, growing by whole engine instances. */
export class EnginePool {
  private readonly engines: Engine[] = [];
  private readonly free: SlotHandle[][] = [];
  private readonly options: EngineOptions;
  private readonly build?: EngineBuild;
  private scratch: Engine | undefined;

  constructor(options: EngineOptions = {}, build?: EngineBuild) {
    this.options = options;
    this.build = build;
  }

  /** Take a free slot (making a new engine instance if none is left). */
  acquire(): SlotHandle {
    for (const list of this.free) {
      const handle = list.pop();
      if (handle) return handle;
    }
    const engine = createEngine(this.options, this.build);
    const list: SlotHandle[] = [];
    for (let slot = engine.maxConnections - 1; slot >= 0; slot--) list.push({ engine, slot });
    this.engines.push(engine);
    this.free.push(list);
    return list.pop()!;
  }

  /** Give a slot back. */
  release(handle: SlotHandle): void {
    this.free[this.engines.indexOf(handle.engine)].push(handle);
  }

  /**
   * The instance for engine calls that need no connection slot: a server's handshake (parse the request,
   * choose a subprotocol, build the 101 or a refusal). It has no slots and the pool's I/O size, made on first
   * use, so a handshake takes no slot and never writes over a connection's input still being read.
   */
  handshakeEngine(): Engine {
    this.scratch ??= createEngine({ ...this.options, maxConnections: 0 }, this.build);
    return this.scratch;
  }

  /** Slots in use. */
  get inUse(): number {
    let free = 0;
    for (const list of this.free) free += list.length;
    return this.engines.reduce((n, e) => n + e.maxConnections, 0) - free;
  }
}

let shared: EnginePool | undefined;

/** The process-wide pool the hosts use by default. */
export function sharedPool(): EnginePool {
  shared ??= new EnginePool();
  return shared;
}
