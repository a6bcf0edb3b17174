import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, type buildConnector } from 'undici';
import type { BerthPort } from '../../runtime/types.js';

/** Opens a stream to a port inside a berth: BerthDirectory.connect, through the runtime. */
export type ConnectBerth = (target: BerthPort) => Promise<Duplex>;

export interface PoolOptions {
  /** Connections per berth port at once; more requests wait their turn. */
  maxSocketsPerBerth: number;
  /**
   * An idle connection is closed after this long. A shorter
   * `Keep-Alive: timeout=N` from the berth wins; this covers servers that close
   * idle connections without announcing it (uvicorn, 5 s), where reusing one
   * just as it closes would cost a request.
   */
  idleSocketMs: number;
}

/**
 * undici keys its pools by origin, so each berth port gets the origin
 * `http://<safe name>.berth:<port>`: never resolved, only parsed back by the
 * connector. The suffix keeps an all-digit safe name from reading as an IPv4
 * number in the URL parser.
 */
const HOST_SUFFIX = '.berth';

/**
 * The gateway's pool for requests to berths: undici keeps a keep-alive pool per
 * berth port and parses responses without a stream or an IncomingMessage per
 * request, which is most of what a proxy on node:http's own client spends
 * (BENCHMARKS.md, "Proxy"). New connections come from the runtime's connect
 * (the one way into a berth), so a server bound to the berth's own loopback
 * is pooled like any other; a request on a pooled connection costs nothing more.
 */
export function createUpstreamAgent(options: PoolOptions, connect: ConnectBerth): Agent {
  return new Agent({
    connections: options.maxSocketsPerBerth,
    pipelining: 1,
    keepAliveTimeout: options.idleSocketMs,
    keepAliveMaxTimeout: options.idleSocketMs,
    connect: berthConnector(connect),
    // Long polls, server-sent events and slow reports take as long as they
    // take; the client, not the gateway, decides when to give up waiting.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
}

function berthConnector(connect: ConnectBerth): buildConnector.connector {
  return (options, callback) => {
    connect(berthPortOf(options.hostname, options.port)).then(
      (stream) => {
        // undici takes a socket; the runtimes hand one back wherever they have one (see Runtime.connect).
        if (stream instanceof Socket) stream.setKeepAlive(true, 60_000);
        callback(null, stream as Socket);
      },
      (err: Error) => callback(err, null),
    );
  };
}

/** The origin undici keys its pool for this berth port by. */
export function originOf(target: BerthPort): string {
  return `http://${target.name}${HOST_SUFFIX}:${target.port}`;
}

/** The berth port a host name made by originOf() or hostOf() names. */
export function berthPortOf(host: string, port: string | number | null | undefined): BerthPort {
  return { name: host.endsWith(HOST_SUFFIX) ? host.slice(0, -HOST_SUFFIX.length) : host, port: Number(port) };
}

/** The host name the upgrade path's node:http client is given for a berth (never resolved: its agent dials through connect). */
export function hostOf(target: BerthPort): string {
  return `${target.name}${HOST_SUFFIX}`;
}
