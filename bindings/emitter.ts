// A small typed event emitter with the `ws`/Node EventEmitter surface the server objects need, so the
// runtime-neutral server code runs where `node:events` does not exist.

type Args = unknown[];
type EventMap<T> = { [K in keyof T]: Args };
type Listener<A extends Args> = (...args: A) => void;

interface Entry {
  listener: Listener<Args>;
  once: boolean;
}

/** on/once/off/emit with per-event argument types, like Node's `EventEmitter<T>`. */
export class Emitter<T extends EventMap<T>> {
  private readonly listeners = new Map<keyof T, Entry[]>();

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
    const list = this.listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].listener !== listener) continue;
      const copy = list.slice();
      copy.splice(i, 1);
      this.listeners.set(event, copy);
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
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  /** Listeners of `event`. */
  listenerCount(event: keyof T): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** Call the listeners of `event` in order; false when there were none. An unheard "error" throws. */
  emit<K extends keyof T>(event: K, ...args: T[K]): boolean {
    const list = this.listeners.get(event);
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

  private add<K extends keyof T>(event: K, listener: Listener<T[K]>, once: boolean): this {
    const list = this.listeners.get(event) ?? [];
    this.listeners.set(event, [...list, { listener: listener as Listener<Args>, once }]);
    return this;
  }
}
