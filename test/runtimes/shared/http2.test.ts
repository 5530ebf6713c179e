// WebSockets over HTTP/2 (RFC 8441) under Node and Bun alike: the Node host (`wasmsocket/node`), which runs on
// either runtime's node:http2, attached to an HTTP/2 TLS server that also takes HTTP/1.1 upgrades. Under Bun
// this is the runtime's own node:http2 server and client; the Bun host itself listens with Bun.listen, and
// given `server` its constructor returns the Node host's server.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "../../../runtimes/node/index.js";
import { connectH2, connectHeaders, openStream } from "../../support/h2-peer.js";
import { closePayload, frame, within } from "../../support/raw-client.js";
import { throwawayCert } from "../../support/tls-cert.js";
import { describe, expect, host, isBun, it, nextMessage, openClient, runtime } from "./harness.js";

const { key, cert } = throwawayCert();

/** Our Node host's server on an HTTP/2 TLS server (HTTP/1.1 too) echoing, and a client session to it. */
async function h2EchoServer(options: { closeTimeout?: number } = {}) {
  const server = http2.createSecureServer({ key, cert, allowHTTP1: true });
  const wss = new WebSocketServer({ server, ...options });
  const versions: string[] = [];
  wss.on("connection", (ws, req) => {
    versions.push(req.httpVersion);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const { session, settings } = await connectH2(`https://127.0.0.1:${port}`, { ca: cert });
  const close = async () => {
    session.destroy();
    for (const ws of wss.clients) ws.terminate();
    await wss.close();
    server.close();
  };
  return { wss, port, session, settings, versions, close };
}

describe(`WebSockets over HTTP/2 on ${runtime}'s node:http2`, () => {
  it("advertises the setting, echoes on a stream and ends the close handshake with END_STREAM", async () => {
    const { session, settings, versions, close } = await h2EchoServer();
    try {
      expect(settings.enableConnectProtocol).toBe(true);
      const peer = await openStream(session, connectHeaders("/echo"));
      expect(peer.status).toBe(200);
      peer.raw.write(frame(1, `over ${runtime}`));
      expect((await peer.raw.readFrame()).payload.toString()).toBe(`over ${runtime}`);
      peer.raw.write(frame(2, Buffer.alloc(100_000, 9)));
      expect((await peer.raw.readFrame()).payload.length).toBe(100_000);
      peer.raw.write(frame(8, closePayload(1000, "done")));
      expect((await peer.raw.readFrame()).opcode).toBe(8);
      expect(await within(peer.end, 3000, "stream close")).toEqual({ endStream: true, rstCode: 0 });
      expect(versions).toEqual(["2.0"]);
    } finally {
      await close();
    }
  });

  it("fails a bad frame with 1002, resets the stream with CANCEL, and keeps HTTP/1.1 on the port going", async () => {
    const { session, port, versions, close } = await h2EchoServer({ closeTimeout: 200 });
    try {
      const bad = await openStream(session, connectHeaders("/"), { endOnEnd: false });
      bad.raw.write(frame(1, "unmasked", { mask: false }));
      expect((await bad.raw.readFrame()).payload.readUInt16BE(0)).toBe(1002);
      expect(await within(bad.end, 3000, "stream close")).toEqual({
        endStream: true,
        rstCode: http2.constants.NGHTTP2_CANCEL,
      });
      const http1 = await openClient(`wss://127.0.0.1:${port}/h1`, [], { ca: cert });
      http1.send("upgrade still works");
      expect(await nextMessage(http1)).toBe("upgrade still works");
      http1.close();
      const other = await openStream(session, connectHeaders("/", { "sec-websocket-version": "8" }));
      expect([other.status, other.headers["sec-websocket-version"]]).toEqual([426, "13"]);
      expect(versions).toEqual(["2.0", "1.1"]);
    } finally {
      await close();
    }
  });

  it("the package's main export given an HTTP/2 `server` is the Node host's server, and serves it", async () => {
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true });
    const wss = new host.WebSocketServer({ server } as never) as unknown as WebSocketServer;
    expect(wss instanceof WebSocketServer).toBe(true);
    wss.on("connection", (ws) => ws.on("message", (data) => ws.send(String(data))));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { session } = await connectH2(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      ca: cert,
    });
    try {
      const peer = await openStream(session, connectHeaders("/main"));
      expect(peer.status).toBe(200);
      peer.raw.write(frame(1, "main export"));
      expect((await peer.raw.readFrame()).payload.toString()).toBe("main export");
    } finally {
      session.destroy();
      for (const ws of wss.clients) ws.terminate();
      await wss.close();
      server.close();
    }
  });
});
