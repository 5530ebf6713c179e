// The C client (runtimes/wamr/src/wsk_client.c) against servers that stop reading or never answer, on every
// target of host.ts, with several clients in one driver process (client_driver.c) as firmware would have them:
// a client whose server does not read must not hold the host lock while it waits (every other client and server
// of the process would stop with it), its send queue is bounded, and a handshake that never completes ends at
// network_timeout_ms with a handshake error (the app's stop before then, with none); the app may stop a client
// whose wsk_client_close waits.
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseFrame, switchingProtocols } from "../../support/raw-client.js";
import { ClientDriver, ErrorType, type DrivenClient } from "./client-driver.js";
import { buildHost, takeSanitizerReports, targets, type Target } from "./host.js";

const SETTINGS = { bufferSize: 1024, maxMessageSize: 0, pingIntervalSec: 0, maxFragmentSize: 0, sends: [] };
/** Long enough that a client waiting on one socket with the host lock held stalls past the test's timeout. */
const LONG_TIMEOUT = 60_000;
/** The handshake_status of a 101 whose Sec-WebSocket-Accept is wrong. */
const BAD_ACCEPT_STATUS = 101;

/** A server that completes every upgrade, then hands the socket to `upgraded` (with what followed the head). */
async function upgradeServer(upgraded: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      socket.write(switchingProtocols(head.toString("latin1")));
      upgraded(socket);
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Read nothing more from `socket`, not even into Node's buffer (pause() alone keeps reading up to its high-water
 * mark, and the kernel then grows the receive window): what the client sends stays in the kernel's buffers.
 */
function stopReading(socket: Socket): void {
  socket.pause();
  (socket as unknown as { _handle: { readStop(): void } })._handle.readStop();
}

/** A server frame: FIN + opcode, unmasked. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

/** A server that sends "tick N" every 10 ms to each client (at most 6,000), and ends when the client sends anything. */
function tickServer(): Promise<{ server: Server; port: number }> {
  return upgradeServer((socket) => {
    socket.on("data", () => socket.end());
    let n = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || ++n > 6000) return clearInterval(timer);
      socket.write(serverFrame(1, Buffer.from(`tick ${n}`)));
    }, 10);
    socket.on("close", () => clearInterval(timer));
  });
}

/** Text messages a client has received so far. */
const ticks = (client: DrivenClient) => client.events.filter((e) => e.name === "DATA" && e.op === 1).length;

for (const t of targets) describe(`C client against servers that stop reading [${t.name}]`, () => suite(t));

function suite(t: Target): void {
  let driver: ClientDriver;
  const servers: Server[] = [];
  let nextId = 1;

  beforeAll(async () => {
    await buildHost(t);
    driver = new ClientDriver(t);
  }, 180_000);

  afterEach(() => expect(takeSanitizerReports()).toEqual([]));

  afterAll(async () => {
    for (const server of servers) server.close();
    const code = await driver?.stop();
    expect(driver.stray).toEqual([]);
    expect(code).toBe(0);
    expect(takeSanitizerReports()).toEqual([]);
  }, 60_000);

  /** A client of the driver connected to `port` (network_timeout_ms as given). */
  async function connected(port: number, networkTimeoutMs: number): Promise<DrivenClient> {
    const client = driver.open(nextId++, port, "/", SETTINGS, networkTimeoutMs);
    await client.until(() => client.has("CONNECTED") || client.finished, 10_000);
    expect(client.has("CONNECTED")).toBe(true);
    return client;
  }

  it("keeps the other clients going while a server floods pings and never reads: the flooded client is dropped with 1008", async () => {
    const ticker = await tickServer();
    const sockets: Socket[] = [];
    const flooder = await upgradeServer((socket) => {
      sockets.push(socket);
      stopReading(socket); // never reads the pongs
      const pings = Buffer.concat([...Array(512)].map(() => serverFrame(9, Buffer.alloc(125, 0x70))));
      let sent = 0;
      // 64 MiB of pings at most: the client's send queue overflows long before.
      const pump = () => {
        while (!socket.destroyed && sent < 64 << 20 && socket.write(pings)) sent += pings.length;
        if (!socket.destroyed && sent < 64 << 20) socket.once("drain", pump);
      };
      pump();
    });
    servers.push(ticker.server, flooder.server);
    const other = await connected(ticker.port, LONG_TIMEOUT);
    await other.until(() => ticks(other) >= 5, 10_000);
    const flooded = await connected(flooder.port, LONG_TIMEOUT);
    // Before the send queue, the flooded client's task waited on its full socket with the host lock held, up
    // to network_timeout_ms (60 s here): every other client stopped with it and this test timed out.
    expect(await flooded.until(() => flooded.finished, 25_000)).toBe(true);
    const errors = flooded.events.filter((e) => e.name === "ERROR");
    expect(errors.map((e) => [e.type, e.closeCode])).toEqual([[ErrorType.TcpTransport, 1008]]);
    expect(flooded.events.at(-2)).toMatchObject({ name: "DISCONNECTED", closeCode: 1008 });
    const before = ticks(other);
    expect(await other.until(() => ticks(other) >= before + 20, 10_000)).toBe(true);
    for (const socket of sockets) socket.destroy();
    driver.close(other.id, 2000);
    expect(await other.until(() => other.destroyed, 10_000)).toBe(true);
  }, 60_000);

  it("sends the server it gave up on (pings, never read) close 1008 'send queue full' behind whole pongs, once it reads", async () => {
    let flooding = true;
    let upgraded!: (socket: Socket) => void;
    const peer = new Promise<Socket>((resolve) => (upgraded = resolve));
    const flooder = await upgradeServer((socket) => {
      stopReading(socket);
      upgraded(socket);
      const pings = Buffer.concat([...Array(512)].map(() => serverFrame(9, Buffer.alloc(125, 0x70))));
      let sent = 0;
      const pump = () => {
        while (flooding && !socket.destroyed && sent < 64 << 20 && socket.write(pings)) sent += pings.length;
        if (flooding && !socket.destroyed && sent < 64 << 20) socket.once("drain", pump);
      };
      pump();
    });
    servers.push(flooder.server);
    const flooded = await connected(flooder.port, LONG_TIMEOUT);
    expect(await flooded.until(() => flooded.has("DISCONNECTED"), 25_000)).toBe(true);
    flooding = false;
    // Read again: the client's pongs, then its close frame (before: none, the socket was shut at the drop).
    const socket = await peer;
    const chunks: Buffer[] = [];
    const ended = new Promise((resolve) => socket.once("close", resolve));
    socket.on("data", (d: Buffer) => chunks.push(d));
    (socket as unknown as { _handle: { readStart(): void } })._handle.readStart();
    socket.resume();
    await Promise.race([ended, new Promise((r) => setTimeout(r, 20_000))]);
    let bytes = Buffer.concat(chunks);
    const frames: { opcode: number; masked: boolean; payload: Buffer }[] = [];
    for (let parsed = parseFrame(bytes); parsed; parsed = parseFrame(bytes)) {
      frames.push(parsed.frame);
      bytes = bytes.subarray(parsed.size);
    }
    expect(bytes.length).toBe(0); // whole frames only
    const close = frames.at(-1)!;
    expect([
      close.opcode,
      close.masked,
      close.payload.readUInt16BE(0),
      close.payload.subarray(2).toString(),
    ]).toEqual([8, true, 1008, "send queue full"]);
    expect(frames.slice(0, -1).every((f) => f.opcode === 10)).toBe(true);
    expect(flooded.events.find((e) => e.name === "DISCONNECTED")).toMatchObject({ closeCode: 1008 });
    socket.destroy();
  }, 60_000);

  it("queues what a server that does not read leaves, and refuses a send after timeout_ms without holding the host lock", async () => {
    const ticker = await tickServer();
    const sockets: Socket[] = [];
    const silent = await upgradeServer((socket) => {
      sockets.push(socket);
      stopReading(socket);
    });
    servers.push(ticker.server, silent.server);
    const other = await connected(ticker.port, LONG_TIMEOUT);
    const stuck = await connected(silent.port, LONG_TIMEOUT);
    // 4 MiB messages until one finds no room in 1 s: the sockets take some, the send queue one more message.
    // Before the queue, that send waited on the full socket with the host lock held, up to network_timeout_ms
    // (60 s), and this test timed out.
    let before = 0;
    for (let i = 0; i < 40 && !stuck.replies.includes("SENT -1"); i++) {
      before = ticks(other);
      driver.send(stuck.id, "binary", 4 << 20, 1000);
      await stuck.until(() => stuck.replies.length > i, 30_000);
    }
    expect(stuck.replies.at(-1)).toBe("SENT -1");
    expect(stuck.replies.slice(0, -1)).toEqual(stuck.replies.slice(0, -1).map(() => `SENT ${4 << 20}`));
    // The other client went on receiving while that send waited.
    expect(ticks(other)).toBeGreaterThan(before);
    expect(stuck.finished).toBe(false);
    for (const socket of sockets) socket.destroy();
    expect(await stuck.until(() => stuck.destroyed, 10_000)).toBe(true);
    driver.close(other.id, 2000);
    expect(await other.until(() => other.destroyed, 10_000)).toBe(true);
  }, 60_000);

  it("keeps a connection whose server pings while it reads a queued 16 MiB message slowly: the pongs queue behind it", async () => {
    let upgraded!: (socket: Socket) => void;
    const peer = new Promise<Socket>((resolve) => (upgraded = resolve));
    const slow = await upgradeServer((socket) => {
      socket.pause(); // Node reads up to its high-water mark, then leaves the rest to the kernel's buffers
      upgraded(socket);
    });
    servers.push(slow.server);
    const client = await connected(slow.port, LONG_TIMEOUT);
    const socket = await peer;
    let bytes = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => (bytes = Buffer.concat([bytes, d])));
    socket.pause();
    driver.send(client.id, "binary", 16 << 20, 30_000);
    await client.until(() => client.replies.length > 0, 30_000);
    expect(client.replies).toEqual([`SENT ${16 << 20}`]);
    // Pings every 20 ms while the message is read in short bursts: each pong waits behind the message's rest,
    // more than max_send_queue, and must not count against it (before, the first pong dropped the connection).
    const frames: { opcode: number; payload: Buffer }[] = [];
    let pings = 0;
    for (let i = 0; i < 1500 && !frames.some((f) => f.opcode === 2); i++) {
      if (i % 2 === 0) socket.write(serverFrame(9, Buffer.from(`p${++pings}`)));
      await new Promise((r) => setTimeout(r, 10));
      socket.resume();
      await new Promise((r) => setTimeout(r, 10));
      socket.pause();
      for (let parsed = parseFrame(bytes); parsed; parsed = parseFrame(bytes)) {
        frames.push(parsed.frame);
        bytes = bytes.subarray(parsed.size);
      }
    }
    expect(client.events.filter((e) => e.name === "ERROR")).toEqual([]);
    const message = frames.find((f) => f.opcode === 2)!;
    expect(message.payload.length).toBe(16 << 20);
    expect(message.payload.every((b, i) => b === 0x61 + (i % 26))).toBe(true);
    // Every pong answers a ping, in order, and they are more than a few (sent while the message waited).
    const pongs = frames.filter((f) => f.opcode === 10).map((f) => f.payload.toString());
    expect(pongs).toEqual(pongs.map((_, i) => `p${i + 1}`));
    expect(pongs.length).toBeGreaterThan(0);
    socket.resume();
    socket.destroy();
    expect(await client.until(() => client.destroyed, 10_000)).toBe(true);
  }, 60_000);

  it("drops a connection whose queued bytes make no progress for network_timeout_ms (1006)", async () => {
    const sockets: Socket[] = [];
    const silent = await upgradeServer((socket) => {
      sockets.push(socket);
      stopReading(socket);
    });
    servers.push(silent.server);
    const stuck = await connected(silent.port, 2000);
    // 32 MiB: far more than the kernel's buffers take from a reader that reads nothing (about 8 MiB here), so
    // the rest stays queued (with less, a slow target could see the kernel take it all, slowly, and never drop).
    driver.send(stuck.id, "binary", 32 << 20, 100);
    await stuck.until(() => stuck.replies.length > 0, 30_000);
    expect(stuck.replies).toEqual([`SENT ${32 << 20}`]);
    expect(await stuck.until(() => stuck.destroyed, 20_000)).toBe(true);
    expect(stuck.events.filter((e) => e.name === "ERROR").map((e) => [e.type, e.closeCode])).toEqual([
      [ErrorType.TcpTransport, 1006],
    ]);
    expect(stuck.events.at(-2)).toMatchObject({ name: "DISCONNECTED", closeCode: 1006 });
    for (const socket of sockets) socket.destroy();
  }, 60_000);

  it("ends a handshake the server never answers (or answers halfway) at network_timeout_ms with a handshake error", async () => {
    const silent = createServer((socket) => socket.on("error", () => {}));
    const halfway = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"));
    });
    for (const server of [silent, halfway]) {
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const client = driver.open(nextId++, (server.address() as AddressInfo).port, "/", SETTINGS, 1000);
      expect(await client.until(() => client.destroyed, 15_000)).toBe(true);
      expect(client.events.map((e) => e.name)).toEqual([
        "BEGIN",
        "BEFORE_CONNECT",
        "ERROR",
        "DISCONNECTED",
        "FINISH",
      ]);
      expect(client.events[2]).toMatchObject({ type: ErrorType.Handshake, status: 0 });
    }
  }, 60_000);

  it("reports no handshake error for the app's stop while the 101 is awaited", async () => {
    let requested = false;
    const silent = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => (requested = true));
    });
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const client = driver.open(nextId++, (silent.address() as AddressInfo).port, "/", SETTINGS, 10_000);
    for (let i = 0; i < 500 && !requested; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(requested).toBe(true);
    driver.stopClient(client.id);
    expect(await client.until(() => client.destroyed, 10_000)).toBe(true);
    expect(client.replies).toEqual(["STOP_RETURNED 0"]);
    // Before, an ERROR of type HANDSHAKE (status 0) came first, as if the server had failed the handshake.
    expect(client.events.map((e) => e.name)).toEqual(["BEGIN", "BEFORE_CONNECT", "DISCONNECTED", "FINISH"]);
  }, 60_000);

  it("stops a client from another task while its wsk_client_close, past its timeout, waits for the task: both return once", async () => {
    const sockets: Socket[] = [];
    // Reads the client's close frame and never answers it.
    const deaf = await upgradeServer((socket) => sockets.push(socket));
    servers.push(deaf.server);
    const client = await connected(deaf.port, 5000);
    // At the close's timeout the client drops the connection, its DISCONNECTED handler then taking a second,
    // and wsk_client_close stops the task, waiting for it: the app's stop comes meanwhile. Before, both joined
    // the task's thread (and freed it twice): the driver hung.
    driver.hold(client.id, 1000);
    driver.close(client.id, 200);
    expect(await client.until(() => client.has("DISCONNECTED"), 10_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    driver.stopClient(client.id);
    expect(await client.until(() => client.destroyed && client.replies.length === 2, 10_000)).toBe(true);
    expect(client.replies.slice().sort()).toEqual(["CLOSE_RETURNED 0", "STOP_RETURNED 0"]);
    expect(client.events.map((e) => e.name)).toEqual([
      "BEGIN",
      "BEFORE_CONNECT",
      "CONNECTED",
      "DISCONNECTED",
      "FINISH",
    ]);
    for (const socket of sockets) socket.destroy();
  }, 60_000);

  // Failures reported as esp_websocket_client reports them (docs/FIRMWARE.md, "Events on failures"): ERROR, then
  // DISCONNECTED carrying the same error_type, errno and HTTP status (its error handle); a server's close frame:
  // DATA (opcode 8), CLOSED, no ERROR.
  /** The events a client reported until it was destroyed: names, and [type, close code, status, errno] of the
   * ERROR, DISCONNECTED and CLOSED ones. */
  async function ended(client: DrivenClient): Promise<{ names: string[]; fields: number[][] }> {
    expect(await client.until(() => client.destroyed, 15_000)).toBe(true);
    const ends = client.events.filter((e) => ["ERROR", "DISCONNECTED", "CLOSED"].includes(e.name));
    return {
      names: client.events.map((e) => e.name),
      fields: ends.map((e) => [e.type, e.closeCode, e.status, e.errno]),
    };
  }
  const ECONNRESET = 104;
  const ECONNREFUSED = 111;

  for (const hangUp of ["reset", "FIN"] as const)
    it(`reports a server's ${hangUp} in the middle of a message: its first bytes, ERROR (TCP transport, errno ${hangUp === "reset" ? "ECONNRESET" : "0"}), DISCONNECTED 1006 with the same`, async () => {
      let client: DrivenClient | undefined;
      const server = await upgradeServer(async (socket) => {
        // A binary frame announcing 100 bytes, 10 of them sent; the rest never comes.
        socket.write(Buffer.concat([Buffer.from([0x82, 100]), Buffer.alloc(10, 0x61)]));
        await client!.until(() => client!.has("DATA"), 10_000);
        if (hangUp === "reset") socket.resetAndDestroy();
        else socket.end();
      });
      servers.push(server.server);
      client = driver.open(nextId++, server.port, "/", SETTINGS, 5000);
      const { names, fields } = await ended(client);
      expect(names).toEqual([
        "BEGIN",
        "BEFORE_CONNECT",
        "CONNECTED",
        "DATA",
        "ERROR",
        "DISCONNECTED",
        "FINISH",
      ]);
      expect(client.events[3]).toMatchObject({
        op: 2,
        payloadLen: 100,
        offset: 0,
        data: Buffer.alloc(10, 0x61),
      });
      const errno = hangUp === "reset" ? ECONNRESET : 0;
      // Before: DISCONNECTED 1006 alone, with no error fields.
      expect(fields).toEqual([
        [ErrorType.TcpTransport, 1006, 0, errno],
        [ErrorType.TcpTransport, 1006, 0, errno],
      ]);
    }, 60_000);

  it("reports a refused connect: ERROR (TCP transport, ECONNREFUSED), DISCONNECTED with the same", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { names, fields } = await ended(driver.open(nextId++, port, "/", SETTINGS, 2000));
    expect(names).toEqual(["BEGIN", "BEFORE_CONNECT", "ERROR", "DISCONNECTED", "FINISH"]);
    // Before: DISCONNECTED with no error fields.
    expect(fields).toEqual([
      [ErrorType.TcpTransport, 0, 0, ECONNREFUSED],
      [ErrorType.TcpTransport, 0, 0, ECONNREFUSED],
    ]);
  }, 60_000);

  for (const [what, answer, status] of [
    ["a 404", () => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404],
    [
      "a 101 with a wrong Sec-WebSocket-Accept",
      () =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
      BAD_ACCEPT_STATUS,
    ],
  ] as const)
    it(`reports a handshake refused with ${what}: ERROR (handshake, status ${status}), DISCONNECTED with the same`, async () => {
      const server = createServer((socket) => {
        socket.on("error", () => {});
        socket.once("data", () => socket.end(answer()));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as AddressInfo).port;
      const { names, fields } = await ended(driver.open(nextId++, port, "/", SETTINGS, 2000));
      expect(names).toEqual(["BEGIN", "BEFORE_CONNECT", "ERROR", "DISCONNECTED", "FINISH"]);
      // Before: DISCONNECTED with no error fields.
      expect(fields).toEqual([
        [ErrorType.Handshake, 0, status, 0],
        [ErrorType.Handshake, 0, status, 0],
      ]);
    }, 60_000);

  it("reports a pong timeout: ERROR (PONG_TIMEOUT, 1011), DISCONNECTED 1011 with the same", async () => {
    const sockets: Socket[] = [];
    const deaf = await upgradeServer((socket) => sockets.push(socket)); // reads the pings, answers none
    servers.push(deaf.server);
    const client = driver.open(
      nextId++,
      deaf.port,
      "/",
      { ...SETTINGS, pingIntervalSec: 1, pingpongTimeoutSec: 1 },
      5000,
    );
    const { names, fields } = await ended(client);
    expect(names).toEqual(["BEGIN", "BEFORE_CONNECT", "CONNECTED", "ERROR", "DISCONNECTED", "FINISH"]);
    // Before: DISCONNECTED 1011 with no error fields.
    expect(fields).toEqual([
      [ErrorType.PongTimeout, 1011, 0, 0],
      [ErrorType.PongTimeout, 1011, 0, 0],
    ]);
    for (const socket of sockets) socket.destroy();
  }, 60_000);

  it("reports a server's close frame: DATA (opcode 8, its code), CLOSED with the code, no ERROR", async () => {
    const server = await upgradeServer((socket) => {
      socket.write(serverFrame(8, Buffer.from([0x0f, 0xa1, 0x62, 0x79, 0x65]))); // 4001 "bye"
      socket.on("data", () => socket.end()); // the client's reply
    });
    servers.push(server.server);
    const client = driver.open(nextId++, server.port, "/", SETTINGS, 5000);
    const { names, fields } = await ended(client);
    expect(names).toEqual(["BEGIN", "BEFORE_CONNECT", "CONNECTED", "DATA", "CLOSED", "FINISH"]);
    expect(client.events[3]).toMatchObject({ op: 8, closeCode: 4001, data: Buffer.from("bye") });
    expect(fields).toEqual([[0, 4001, 0, 0]]);
  }, 60_000);

  it("refuses a max_message_size past INT_MAX, which payload_len could not report, saying so", async () => {
    const client = driver.open(nextId++, 1, "/", { ...SETTINGS, maxMessageSize: 3_000_000_000 }, 1000);
    await client.until(() => client.replies.length > 0, 10_000);
    expect(client.replies).toEqual(["INIT_FAILED"]);
    // The log line comes on stderr, a pipe of its own.
    const said = /max_message_size 3000000000 is more than .*INT_MAX/;
    for (let i = 0; i < 100 && !said.test(driver.stderr); i++) await new Promise((r) => setTimeout(r, 20));
    expect(driver.stderr).toMatch(said);
  });
}
