import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import { parseHostPort, type HostPort } from '../core/net.js';
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
 * The HTTP listener. Slow-client limits: the head must arrive within
 * headersTimeoutSeconds; an idle connection closes after idleTimeoutSeconds;
 * a request body may take as long as it keeps moving (large uploads), so
 * there is no whole-request limit.
 */
export async function listenHttp(config: Config, gateway: Gateway): Promise<HttpListener> {
  const server: Server = createServer({
    headersTimeout: config.http.headersTimeoutSeconds * 1000,
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
  });
  server.timeout = config.http.idleTimeoutSeconds * 1000;
  server.on('request', gateway.handleRequest);
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    // An upgraded connection (a WebSocket) may rightly sit idle for hours.
    socket.setTimeout(0);
    gateway.handleUpgrade(req, socket, head);
  });
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

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
