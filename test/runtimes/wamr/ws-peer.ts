// `ws` as the peer of the C host in tests: open a client, await its next message or its close.
import WebSocket, { type ClientOptions } from "ws";

/** A `ws` client, resolved once open (rejects on an error before). */
export function openWs(url: string, protocols?: string[], options?: ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

export function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) =>
    ws.once("message", (data: Buffer, isBinary) => resolve({ data, isBinary })),
  );
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}
