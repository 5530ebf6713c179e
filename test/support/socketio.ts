// socket.io over a WebSocketServer given as engine.io's `wsEngine`, with the real socket.io-client as the
// peer (it dials with `ws` on Node, with Bun's own `ws` on Bun): a server on 127.0.0.1:0 and clients that
// resolve once connected (and, when polling is first, once the engine's 'upgrade' to websocket has fired).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type ServerOptions } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { within } from "./raw-client.js";

export type { ClientSocket };

/** Bound on every wait of these helpers. */
const WAIT = 10_000;

export interface IoServer {
  io: Server;
  httpServer: http.Server;
  url: string;
  /** `io.close()`, resolved once the http server has closed. */
  close(): Promise<void>;
}

/** A socket.io server on its own http server, listening on 127.0.0.1:0. */
export async function startIo(options: Partial<ServerOptions>): Promise<IoServer> {
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);
  await within(
    new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve)),
    WAIT,
    "http listen",
  );
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const close = () =>
    within(new Promise<void>((resolve) => void io.close(() => resolve())), WAIT, "io.close");
  return { io, httpServer, url, close };
}

/**
 * A socket.io-client connected with `transports` (no reconnection). With polling first, resolved once the
 * engine has upgraded to websocket (its 'upgrade' event, listened to from the engine's open on).
 */
export async function ioClient(
  url: string,
  transports: Array<"polling" | "websocket">,
): Promise<ClientSocket> {
  const socket = connect(url, { transports, forceNew: true, reconnection: false, timeout: WAIT });
  const upgraded =
    transports[0] === "polling" && transports.includes("websocket")
      ? new Promise<void>((resolve, reject) =>
          socket.io.once("open", () => {
            socket.io.engine.once("upgrade", () => resolve());
            socket.io.engine.once("upgradeError", reject);
          }),
        )
      : undefined;
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      }),
      WAIT,
      `socket.io connect (${transports.join(", ")})`,
    );
    if (upgraded) await within(upgraded, WAIT, "engine.io upgrade to websocket");
  } catch (error) {
    socket.disconnect();
    throw error;
  }
  return socket;
}

/** The client's transport name ("polling" or "websocket"). */
export function transportOf(socket: ClientSocket): string {
  return socket.io.engine.transport.name;
}

/** The reason of the client's next 'disconnect'. */
export function nextDisconnect(socket: ClientSocket): Promise<string> {
  return within(
    new Promise<string>((resolve) => socket.once("disconnect", (reason) => resolve(reason))),
    WAIT,
    "socket.io disconnect",
  );
}

/** The next `event` on a client, its arguments. */
export function nextIoEvent(socket: ClientSocket, event: string): Promise<unknown[]> {
  return within(
    new Promise<unknown[]>((resolve) => socket.once(event, (...args: unknown[]) => resolve(args))),
    WAIT,
    `socket.io event ${event}`,
  );
}
