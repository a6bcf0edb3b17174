import { Agent } from 'undici';
import type { Endpoint } from '../../runtime/types.js';

export interface PoolOptions {
  /** Connections per berth (host:port) at once; more requests wait their turn. */
  maxSocketsPerBerth: number;
  /**
   * An idle connection is closed after this long. A shorter
   * `Keep-Alive: timeout=N` from the berth wins; this covers servers that close
   * idle connections without announcing it (uvicorn, 5 s), where reusing one
   * just as it closes would cost a request.
   */
  idleSocketMs: number;
  /** A berth that neither accepts nor refuses (a dropped SYN) fails after this, rather than hanging. */
  connectTimeoutMs: number;
}

/**
 * The gateway's pool for requests to berths: undici keeps a keep-alive pool per berth
 * and parses responses without a stream or an IncomingMessage per request,
 * which is most of what a proxy on node:http's own client spends
 * (BENCHMARKS.md, "Proxy").
 */
export function createUpstreamAgent(options: PoolOptions): Agent {
  return new Agent({
    connections: options.maxSocketsPerBerth,
    pipelining: 1,
    keepAliveTimeout: options.idleSocketMs,
    keepAliveMaxTimeout: options.idleSocketMs,
    connect: { timeout: options.connectTimeoutMs },
    // Long polls, server-sent events and slow reports take as long as they
    // take; the client, not the gateway, decides when to give up waiting.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
}

/** The origin undici keys its pools by; an IPv6 literal goes in brackets. */
export function originOf(target: Endpoint): string {
  return target.host.includes(':') ? `http://[${target.host}]:${target.port}` : `http://${target.host}:${target.port}`;
}
