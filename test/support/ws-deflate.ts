// ws's permessage-deflate internals (named exports of "ws" at runtime, not in @types/ws), typed for the tests.
import * as wsModule from "ws";

type Callback = (error: Error | null, result?: Buffer) => void;
type Params = Record<string, Array<string | true>>;

/** ws's PerMessageDeflate class. */
export interface WsPerMessageDeflate {
  offer(): Params;
  accept(configurations: Params[]): Params;
  compress(data: Buffer, fin: boolean, callback: Callback): void;
  decompress(data: Buffer, fin: boolean, callback: Callback): void;
  cleanup(): void;
}

const ws = wsModule as unknown as {
  PerMessageDeflate: new (options: Record<string, unknown>) => WsPerMessageDeflate;
  extension: {
    parse(header: string): Record<string, Params[]>;
    format(extensions: Record<string, Params>): string;
  };
};

export const WsDeflate = ws.PerMessageDeflate;
export const extension = ws.extension;
