// Waiting on a WHATWG-shaped client (ours on Node, Bun or the browser build): open, next event, next message.

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
