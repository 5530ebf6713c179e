// A client app that exits inside its error handler (node or bun exit-on-error.mjs <url>): whatever the
// library meant to send when it failed the connection must already be on the wire by then.
const isBun = typeof Bun !== "undefined";
const { WebSocket } = await import(
  isBun ? "../../../dist/runtimes/bun/index.js" : "../../../dist/runtimes/node/index.js"
);
const ws = new WebSocket(process.argv[2]);
ws.onerror = () => process.exit(0);
setTimeout(() => process.exit(3), 10_000);
