// uWebSockets.js for the benches, from the bench-only devDependency @trufflesuite/uws-js-unofficial (a
// republished build of uWS.js v20.30). Its loader falls back to a ws-based imitation when the native
// binary does not load; the benches load the binary itself so a uWS row is uWS or an error, never ws.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const dir = require.resolve("@trufflesuite/uws-js-unofficial/package.json").replace(/package\.json$/, "");
const file = `${dir}binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;

/** The native uWebSockets.js module. */
export const uws = require(file);

/** Listen on 127.0.0.1, any free port; resolves with the port. */
export function listen(app) {
  return new Promise((resolve, reject) =>
    app.listen("127.0.0.1", 0, (token) =>
      token ? resolve(uws.us_socket_local_port(token)) : reject(new Error("uWS: listen failed")),
    ),
  );
}

/** WebSocket behavior shared by the benches: no compression, no idle timeout, queue rather than drop. */
export const common = {
  compression: uws.DISABLED,
  maxPayloadLength: 1 << 20,
  idleTimeout: 0,
  maxBackpressure: 64 << 20,
};
