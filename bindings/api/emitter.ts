// A small typed event emitter with the `ws`/Node EventEmitter surface (so `events.once(wss, ...)` and
// other EventEmitter helpers take the server objects), for runtime-neutral code where `node:events` may not exist.

import { defaults } from "../policies/config.js";

type Args = unknown[];
type EventMap<T> = { [K in keyof T]: Args };
type Listener<A extends Args> = (...args: A) => void;

interface Entry {
  listener: Listener<Args>;
  once: boolean;
}

type Table = Record<PropertyKey, Entry[] | undefined>;

/**
 * Listener lists by event name, one object per emitter: its properties stay fast (one shape shared by every
 * emitter given the same events in the same order) and its prototype holds no keys at all, so no event name
 * ("constructor", "__proto__") finds anything but its own list. A Map cost each connection ~230 bytes more
 * (its hash table), the largest part of an idle connection's emitter. Removed events are set to undefined,
 * never deleted, which would turn the object into a dictionary.
 */
const ListenerTable = function ListenerTable() {} as unknown as new () => Table;
(ListenerTable as unknown as { prototype: object }).prototype = Object.create(null) as object;

/** on/once/off/emit with per-event argument types, like Node's `EventEmitter<T>`. */
export class Emitter<T extends EventMap<T>> {
  private entries: Table = new ListenerTable();
  private maxListeners = defaults.maxListeners;

  /** Add a listener. */
  on<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.add(event, listener, false);
  }

  /** Same as `on`. */
  addListener<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.add(event, listener, false);
  }

  /** Add a listener removed after its first call. */
  once<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.add(event, listener, true);
  }

  /** Remove a listener (the last one added, if added more than once). */
  off<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    const list = this.entries[event];
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].listener !== listener) continue;
      // A new list (an emit running over the old one goes on with it), made without `splice`'s array of
      // what it removed.
      const copy: Entry[] = [];
      for (let j = 0; j < list.length; j++) if (j !== i) copy.push(list[j]);
      this.entries[event] = copy;
      break;
    }
    return this;
  }

  /** Same as `off`. */
  removeListener<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.off(event, listener);
  }

  /** Remove every listener of `event`, or of every event. */
  removeAllListeners(event?: keyof T): this {
    if (event === undefined) this.entries = new ListenerTable();
    else if (this.entries[event]) this.entries[event] = undefined;
    return this;
  }

  /** Listeners of `event`. */
  listenerCount(event: keyof T): number {
    return this.entries[event]?.length ?? 0;
  }

  /** The listeners of `event`, in call order. */
  listeners<K extends keyof T>(event: K): Listener<T[K]>[] {
    return (this.entries[event] ?? []).map((entry) => entry.listener as Listener<T[K]>);
  }

  /** Whether some listener of `event` passes `test` (without copying the list, as `listeners` does). */
  protected someListener<K extends keyof T>(event: K, test: (listener: Listener<T[K]>) => boolean): boolean {
    const list = this.entries[event];
    if (list) for (let i = 0; i < list.length; i++) if (test(list[i].listener as Listener<T[K]>)) return true;
    return false;
  }

  /** Same as `listeners` (once-wrappers are not used here). */
  rawListeners<K extends keyof T>(event: K): Listener<T[K]>[] {
    return this.listeners(event);
  }

  /** Events that have listeners. */
  eventNames(): (keyof T)[] {
    return (Reflect.ownKeys(this.entries) as (keyof T)[]).filter((event) => this.listenerCount(event) > 0);
  }

  /** Add a listener called before the others. */
  prependListener<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.add(event, listener, false, true);
  }

  /** Add a one-time listener called before the others. */
  prependOnceListener<K extends keyof T>(event: K, listener: Listener<T[K]>): this {
    return this.add(event, listener, true, true);
  }

  /** Accepted for EventEmitter compatibility: there is no listener limit to warn about. */
  setMaxListeners(limit: number): this {
    this.maxListeners = limit;
    return this;
  }

  /** The value last given to `setMaxListeners` (default 10, as Node's). */
  getMaxListeners(): number {
    return this.maxListeners;
  }

  /** Call the listeners of `event` in order; false when there were none. An unheard "error" throws. */
  emit<K extends keyof T>(event: K, ...args: T[K]): boolean {
    const list = this.entries[event];
    if (!list || list.length === 0) {
      if (event === "error") throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
      return false;
    }
    for (const entry of list) {
      if (entry.once) this.off(event, entry.listener as Listener<T[K]>);
      entry.listener.apply(this, args);
    }
    return true;
  }

  private add<K extends keyof T>(event: K, listener: Listener<T[K]>, once: boolean, first = false): this {
    const list = this.entries[event] ?? [];
    const entry = { listener: listener as Listener<Args>, once };
    this.entries[event] = list.length === 0 ? [entry] : first ? [entry, ...list] : [...list, entry];
    return this;
  }
}
