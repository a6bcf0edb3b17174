import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import { parseHostPort, type HostPort } from '../core/net.js';
import { answerClientError } from './clientError.js';
import type { Gateway } from './gateway.js';

export interface HttpListener {
  address(): HostPort;
  /**
   * Stops accepting, lets requests in flight finish for up to graceMs, then
   * cuts what is left; `cutUpgraded` closes upgraded connections, which the
   * HTTP server no longer tracks.
   */
  close(graceMs: number, cutUpgraded: () => void): Promise<void>;
}

/**
 * How often Node checks connections against headersTimeout. Its default (30 s)
 * let a slow head live up to 30 s past the limit; this keeps the cut within
 * half a second of it, for a walk over the open connections twice a second.
 */
const CHECK_EVERY_MS = 500;

/**
 * The HTTP listener. Slow-client limits: the head must arrive within
 * headersTimeoutSeconds (else 408); an idle connection closes after idleTimeoutSeconds;
 * a request body may take as long as it keeps moving (large uploads), so
 * there is no whole-request limit.
 */
export async function listenHttp(config: Config, gateway: Gateway): Promise<HttpListener> {
  const server: Server = createServer({
    headersTimeout: config.http.headersTimeoutSeconds * 1000,
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: CHECK_EVERY_MS,
  });
  server.timeout = config.http.idleTimeoutSeconds * 1000;
  server.on('request', gateway.handleRequest);
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    // An upgraded connection (a WebSocket) may rightly sit idle for hours.
    socket.setTimeout(0);
    gateway.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket, config.http.headersTimeoutSeconds));

  const target = parseHostPort(config.listen.http) as HostPort;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target.port, target.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    address() {
      const info = server.address();
      if (info === null || typeof info === 'string') return target;
      return { host: info.address, port: info.port };
    },
    async close(graceMs, cutUpgraded) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        server.closeAllConnections();
        cutUpgraded();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
