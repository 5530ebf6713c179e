// graphql-ws on the runtime's host, Node and Bun alike: `useServer` from graphql-ws/use/ws on our server
// listening on its own port, with graphql-ws's client on our client class and on the runtime's own WebSocket
// (Bun's; Node's from 22 on). Node runs the full matrix (ws's classes paired with ours, more close codes,
// keep-alive, dispose) in test/interop/ecosystem.test.ts.
import { createRequire } from "node:module";
import { createClient } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import type { WebSocketServer as WSServer } from "ws";
import { within } from "../../support/raw-client.js";
import {
  afterAll,
  beforeAll,
  describe,
  expect,
  host,
  it,
  listen,
  runtime,
  type WebSocketServer,
} from "./harness.js";

// graphql as graphql-ws loads it (its CommonJS main): two copies of graphql refuse each other's schemas.
const { buildSchema } = createRequire(import.meta.url)("graphql") as typeof import("graphql");
const schema = buildSchema("type Query { hello: String } type Subscription { count(to: Int!): Int }");
const roots = {
  query: { hello: () => "hello" },
  subscription: {
    count: async function* ({ to }: { to: number }) {
      for (let i = 1; i <= to; i++) yield { count: i };
    },
  },
};

// The runtime's own WebSocket where it has one (Bun; Node from 22 on).
const CLIENTS = [
  { name: "our client", Impl: host.WebSocket as unknown },
  ...(typeof globalThis.WebSocket === "function"
    ? [{ name: `${runtime}'s own WebSocket`, Impl: globalThis.WebSocket as unknown }]
    : []),
];

describe(`graphql-ws on ${runtime}: useServer on our server`, () => {
  let wss: WebSocketServer;
  let url: string;
  let disposable: { dispose(): Promise<void> | void };
  const protocols: string[] = [];

  beforeAll(async () => {
    ({ wss, url } = await listen());
    wss.on("connection", (socket) => protocols.push(socket.protocol));
    disposable = useServer({ schema, roots }, wss as unknown as WSServer);
  });

  afterAll(async () => {
    await within(Promise.resolve(disposable.dispose()), 5000, "dispose");
  });

  for (const { name, Impl } of CLIENTS) {
    it(`${name}: graphql-transport-ws, a subscription's values in order, 4400 for a bad message`, async () => {
      const client = createClient({ url, webSocketImpl: Impl, retryAttempts: 0, lazy: true });
      const before = protocols.length;
      const values = await within(
        new Promise<number[]>((resolve, reject) => {
          const got: number[] = [];
          client.subscribe<{ count: number }>(
            { query: "subscription { count(to: 10) }" },
            { next: (v) => got.push(v.data!.count), error: reject, complete: () => resolve(got) },
          );
        }),
        10_000,
        "subscription",
      );
      expect(values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(protocols.slice(before)).toEqual(["graphql-transport-ws"]);
      await client.dispose();

      const Base = Impl as typeof globalThis.WebSocket;
      const bad = createClient({
        url,
        webSocketImpl: class BadMessage extends Base {
          override send(data: string): void {
            super.send(data.replace("connection_init", "connection_bogus"));
          }
        },
        retryAttempts: 0,
        lazy: true,
      });
      const error = await within(
        new Promise<{ code?: number; reason?: string }>((resolve) =>
          bad.subscribe(
            { query: "{ hello }" },
            { next() {}, error: (e) => resolve(e as object), complete: () => resolve({}) },
          ),
        ),
        10_000,
        "4400",
      );
      expect([error.code, error.reason]).toEqual([4400, "Invalid message received"]);
      await bad.dispose();
    });
  }
});
