// Waiting on a WHATWG-shaped client (ours on Node, Bun or the browser build): open, next event, next message.

import { within } from "./raw-client.js";

/** A client constructor with the WHATWG signature (options are ours). */
export type ClientConstructor<W extends EventTarget, O> = new (
  url: string,
  protocols?: string | string[],
  options?: O,
) => W;

/** A new client, resolved once open (rejects on a close before open). */
export function openWith<W extends EventTarget, O>(
  Client: ClientConstructor<W, O>,
  url: string,
  protocols?: string | string[],
  options?: O,
): Promise<W> {
  const ws = new Client(url, protocols, options);
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(ws), { once: true });
    ws.addEventListener("close", (e) => reject(new Error(`closed before open: ${(e as CloseEvent).code}`)), {
      once: true,
    });
  });
}

/** The next event of `type` on an EventTarget. */
export function nextEvent<T extends Event>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) => target.addEventListener(type, (e) => resolve(e as T), { once: true }));
}

/** The next message's data on a client. */
export function nextMessage<D = string | Uint8Array | ArrayBuffer>(ws: EventTarget): Promise<D> {
  return nextEvent<MessageEvent>(ws, "message").then((e) => e.data as D);
}

/** Resolve with `ws` (ws's API: `once`) once it opens, within `ms`; reject with the attempt's 'error'. */
export function openedOrError<W extends object>(ws: W, ms = 5000, what = "open"): Promise<W> {
  const emitter = ws as unknown as { once(event: string, listener: (error: Error) => void): unknown };
  return within(
    new Promise<W>((resolve, reject) => {
      emitter.once("open", () => resolve(ws));
      emitter.once("error", reject);
    }),
    ms,
    what,
  );
}

/** Wait (polling every 10 ms, at most `ms`) until `ready()` holds. */
export async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      for (let i = 0; i < ms / 10 && !ready(); i++) await new Promise((r) => setTimeout(r, 10));
    })(),
    ms + 1000,
    what,
  );
  if (!ready()) throw new Error(`timed out after ${ms} ms: ${what}`);
}

/** Wait (polling every 5 ms, at most `ms`) until `check()` holds; throws "timed out: <what>" past it. */
export async function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
