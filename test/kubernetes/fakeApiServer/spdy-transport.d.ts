/** The part of spdy-transport (no types of its own) the fake API server uses. */
declare module 'spdy-transport' {
  import type { Duplex } from 'node:stream';
  namespace spdy {
    interface Stream extends Duplex {
      headers: Record<string, string | undefined>;
      respond(status: number, headers: Record<string, string>): void;
    }
    interface Connection extends NodeJS.EventEmitter {
      start(version: number): void;
      destroyStreams(err?: Error): void;
    }
  }
  const spdy: {
    connection: { create(socket: Duplex, options: { protocol: 'spdy' | 'http2'; isServer: boolean }): spdy.Connection };
    protocol: { spdy: { parser: { create(options: object): object } } };
  };
  export default spdy;
}
