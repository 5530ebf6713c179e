// A peer in a worker thread (server.test.ts): it opens a WebSocket on workerData.port, sends
// workerData.frames masked binary frames of workerData.size bytes at once without reading anything, and
// resets the connection (RST) when told "reset", then sets workerData.signal[0] to 1 and wakes whoever
// waits on it. A thread of its own, so the reset can land while the server's thread is blocked in one of
// its message handlers.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { parentPort, workerData } from "node:worker_threads";

const { port, frames, size, signal } = workerData;
const socket = connect(port, "127.0.0.1");
socket.on("error", () => {});
socket.once("connect", () => {
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
});
let head = Buffer.alloc(0);
const onData = (chunk) => {
  head = Buffer.concat([head, chunk]);
  if (!head.includes("\r\n\r\n")) return;
  socket.off("data", onData);
  socket.pause();
  // Masking key 0: the payload goes as it is.
  const header = Buffer.from([0x82, 0xfe, size >> 8, size & 255, 0, 0, 0, 0]);
  const frame = Buffer.concat([header, randomBytes(size)]);
  socket.write(Buffer.concat(Array.from({ length: frames }, () => frame)), () =>
    parentPort.postMessage("sent"),
  );
};
socket.on("data", onData);
parentPort.on("message", (message) => {
  if (message !== "reset") return;
  socket.resetAndDestroy();
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
  parentPort.close();
});
