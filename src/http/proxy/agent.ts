import { Agent, type ClientRequestArgs } from 'node:http';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';

export interface PoolOptions {
  /** Connections per berth (host:port) at once; more requests wait in the agent's queue. */
  maxSocketsPerBerth: number;
  /** Idle connections kept per berth for the next request. */
  maxFreeSocketsPerBerth: number;
  /**
   * An idle connection is closed after this long. Node also honours a shorter
   * `Keep-Alive: timeout=N` from the berth; this covers servers that close idle
   * connections without announcing it (uvicorn, 5 s), where reusing one just as
   * it closes would cost a request.
   */
  idleSocketMs: number;
  /** A berth that neither accepts nor refuses (a dropped SYN) fails after this, rather than hanging. */
  connectTimeoutMs: number;
}

/**
 * The one upstream pool of a gateway: keep-alive, most recently used socket
 * first ('lifo', so a burst's extra sockets go idle and time out), and a
 * connect timeout set once per new socket rather than per request.
 */
export class UpstreamAgent extends Agent {
  private readonly connectTimeoutMs: number;

  constructor(options: PoolOptions) {
    super({
      keepAlive: true,
      scheduling: 'lifo',
      maxSockets: options.maxSocketsPerBerth,
      maxFreeSockets: options.maxFreeSocketsPerBerth,
      timeout: options.idleSocketMs,
    });
    this.connectTimeoutMs = options.connectTimeoutMs;
  }

  override createConnection(options: ClientRequestArgs): Socket {
    // Agent options include `timeout`; that is for idle pooled sockets, not for
    // a request in flight, which may legitimately wait (long poll, SSE).
    const socket = createConnection({ ...(options as NetConnectOpts), timeout: undefined, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, this.connectTimeoutMs);
    // Plain listeners removed by hand: once() would leave a wrapper and the
    // timer behind on 'close' for as long as the connection lives.
    const clear = (): void => {
      clearTimeout(timer);
      socket.off('connect', clear);
      socket.off('close', clear);
    };
    socket.on('connect', clear);
    socket.on('close', clear);
    return socket;
  }
}
