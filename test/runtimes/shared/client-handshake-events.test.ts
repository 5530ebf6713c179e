// ws's handshake events and request details on the client, on Node and Bun alike (harness.ts picks the
// runtime): `upgrade` with node:http's IncomingMessage before `open`, close() and terminate() from its
// listener, `unexpected-response` with a readable body and the connection left to the listener, `_req` right
// after the constructor, credentials and protocolVersion 8 on the wire, and pause() stopping reads. On Bun
// the client takes node:http's way for these and Bun.connect's otherwise.
import * as http from "node:http";
import * as net from "node:net";
import { within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";
import {
  describe,
  expect,
  host,
  it,
  listen,
  runtime,
  type ClientOptions,
  type WebSocket,
} from "./harness.js";

/** Records a client's ws-style events, in order, as "name" or "name:detail". */
function record(ws: WebSocket): string[] {
  const seen: string[] = [];
  ws.on("open", () => seen.push("open"));
  ws.on("error", (error) => seen.push(`error:${error.message}`));
  ws.on("close", (code) => seen.push(`close:${code}`));
  return seen;
}

const closed = (ws: WebSocket) =>
  within(new Promise<void>((resolve) => ws.once("close", () => resolve())), 5000, "close event");

const opened = (ws: WebSocket) =>
  within(new Promise<void>((resolve) => ws.once("open", () => resolve())), 5000, "open");

const ABORTED = "error:WebSocket was closed before the connection was established";

/**
 * A raw server on 127.0.0.1 answering every request with `response` (or never, for "") and keeping the
 * connection open; `requested` resolves at the first request's bytes.
 */
async function answering(
  response: string,
): Promise<{ port: number; requested: Promise<void>; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let requestCame: () => void;
  const requested = new Promise<void>((resolve) => (requestCame = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", () => {
      requestCame();
      if (response) socket.write(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requested,
    stop: () => {
      for (const socket of sockets) socket.destroy();
      return within(
        new Promise<void>((resolve) => server.close(() => resolve())),
        5000,
        "the raw server closing",
      );
    },
  };
}

describe(`client handshake events on ${runtime}`, () => {
  it("emits 'upgrade' with the 101 as an http.IncomingMessage, before 'open'", async () => {
    const { wss, url } = await listen();
    const ws = new host.WebSocket(url);
    const events = record(ws);
    let response: http.IncomingMessage | undefined;
    ws.on("upgrade", (res) => {
      response = res;
      events.push("upgrade");
    });
    await opened(ws);
    expect(events).toEqual(["upgrade", "open"]);
    expect(response).toBeInstanceOf(http.IncomingMessage);
    expect(response!.statusCode).toBe(101);
    expect(response!.headers.upgrade).toBe("websocket");
    expect(response!.rawHeaders.map((name) => name.toLowerCase())).toContain("sec-websocket-accept");
    const done = closed(ws);
    ws.close();
    await done;
    await wss.close();
  });

  for (const method of ["close", "terminate"] as const)
    it(`${method}() from an 'upgrade' listener aborts the handshake as ws's does: no 'open'`, async () => {
      const { wss, url } = await listen();
      const ws = new host.WebSocket(url);
      const events = record(ws);
      const done = closed(ws);
      ws.on("upgrade", () => ws[method]());
      await done;
      expect(events).toEqual([ABORTED, "close:1006"]);
      await wss.close();
    });

  it("gives 'unexpected-response' a readable body, then leaves the connection to the listener", async () => {
    const { port, stop } = await answering(
      "HTTP/1.1 401 Unauthorized\r\nConnection: keep-alive\r\nContent-Type: text/plain\r\n" +
        "Content-Length: 3\r\n\r\nfoo",
    );
    // The handshake timer stops once the response is the listener's: nothing fires past it.
    const ws = new host.WebSocket(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 100 });
    const events = record(ws);
    const body = new Promise<[number | undefined, string]>((resolve) =>
      ws.on("unexpected-response", (request, response) => {
        expect(request).toBeInstanceOf(http.ClientRequest);
        let text = "";
        response.on("data", (chunk: Buffer) => (text += chunk));
        response.on("end", () => resolve([response.statusCode, text]));
      }),
    );
    expect(await within(body, 5000, "the 401's body")).toEqual([401, "foo"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual([]);
    expect(ws.readyState).toBe(host.WebSocket.CONNECTING);
    const done = closed(ws);
    ws.close();
    await done;
    expect(events).toEqual([ABORTED, "close:1006"]);
    await stop();
  });

  it("has the request as `_req` right after the constructor, as ws's does, and opens", async () => {
    const { wss, url } = await listen();
    const ws = new host.WebSocket(url);
    const request = ws._req;
    expect(request).toBeInstanceOf(http.ClientRequest);
    expect(request!.getHeader("sec-websocket-version")).toBe("13");
    await opened(ws);
    expect(ws._req).toBeNull();
    const done = closed(ws);
    ws.close();
    await done;
    await wss.close();
  });

  it("sends credentials (`auth`, the URL's userinfo) and protocolVersion 8 as ws does", async () => {
    const { wss, port } = await listen();
    const cases: Array<[string, object, string | undefined, string]> = [
      [`ws://127.0.0.1:${port}/`, { auth: "a:b" }, "Basic YTpi", "13"],
      [`ws://u:p@127.0.0.1:${port}/`, {}, "Basic dTpw", "13"],
      [`ws://127.0.0.1:${port}/`, { protocolVersion: 8 }, undefined, "8"],
    ];
    for (const [url, options, authorization, version] of cases) {
      const seen = new Promise<[string | undefined, string | undefined]>((resolve) =>
        wss.once("connection", (_ws, req) =>
          resolve([
            req.headers.authorization as string | undefined,
            req.headers["sec-websocket-version"] as string,
          ]),
        ),
      );
      const ws = new host.WebSocket(url, options);
      ws.on("error", () => {});
      expect(await within(seen, 5000, "the connection")).toEqual([authorization, version]);
      const done = closed(ws);
      ws.terminate();
      await done;
    }
    await wss.close();
  });

  it("pause() stops reading until resume(), as ws's does", async () => {
    const { wss, url } = await listen();
    wss.on("connection", (peer) => peer.on("message", () => peer.send("answer")));
    const ws = new host.WebSocket(url);
    const received: string[] = [];
    ws.on("message", (data) => received.push(String(data)));
    await opened(ws);
    ws.pause();
    expect(ws.isPaused).toBe(true);
    ws.send("go");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toEqual([]);
    const answered = new Promise((resolve) => ws.once("message", resolve));
    ws.resume();
    await within(answered, 5000, "the answer after resume()");
    expect(received).toEqual(["answer"]);
    const done = closed(ws);
    ws.close();
    await done;
    await wss.close();
  });

  for (const method of ["close", "terminate"] as const)
    it(`${method}() while the server has not answered: ws's error, then 'close'`, async () => {
      const { port, requested, stop } = await answering("");
      const ws = new host.WebSocket(`ws://127.0.0.1:${port}/`);
      const events = record(ws);
      const done = closed(ws);
      await within(requested, 5000, "the request");
      ws[method]();
      await done;
      expect(events).toEqual([ABORTED, "close:1006"]);
      await stop();
    });

  it("fails sends held behind a Blob on terminate(), while CLOSING, before 'close'", async () => {
    const { wss, url } = await listen();
    const ws = new host.WebSocket(url);
    const events = record(ws);
    await opened(ws);
    const done = closed(ws);
    const failed = (n: number) => (error?: Error | null) =>
      events.push(`${n}:${ws.readyState}:${error?.message}`);
    ws.send(new Blob(["foo"]), failed(1));
    ws.send("bar");
    ws.send("baz", failed(2));
    ws.terminate();
    await done;
    const message = "The socket was closed while the blob was being read";
    expect(events).toEqual(["open", `1:2:${message}`, `2:2:${message}`, "close:1006"]);
    await wss.close();
  });

  it("honours ws's TLS options that Bun.connect lacks (`maxVersion` below the server's minimum fails)", async () => {
    const { key, cert } = throwawayCert("localhost");
    {
      const { wss, port } = await listen({ tls: { key, cert } });
      const options = { ca: cert, maxVersion: "TLSv1.1" } as ClientOptions;
      const ws = new host.WebSocket(`wss://localhost:${port}/`, options);
      const events = record(ws);
      await closed(ws);
      expect(events.map((event) => event.split(":")[0])).toEqual(["error", "close"]);
      expect(events[1]).toBe("close:1006");
      await wss.close();
    }
  });
});
