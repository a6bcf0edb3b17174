import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../types.js';

/**
 * For callers that still want a host:port (endpoint(), mainEndpoint()) when
 * berths are reached through the API's port-forward: one listener on the
 * gateway's loopback per berth port, each connection relayed through
 * connect(). Closed with the berth; gone once every caller uses connect().
 */
export class LoopbackRelays {
  private readonly relays = new Map<string, { server: Server; endpoint: Promise<Endpoint> }>();

  constructor(private readonly open: (name: string, port: number) => Promise<Duplex>) {}

  endpoint(name: string, port: number): Promise<Endpoint> {
    const key = `${name}:${port}`;
    const existing = this.relays.get(key);
    if (existing) return existing.endpoint;
    const server = createServer((client) => {
      client.on('error', () => undefined);
      client.pause();
      this.open(name, port).then(
        (upstream) => {
          upstream.on('error', () => client.destroy());
          client.on('close', () => upstream.destroy());
          upstream.on('close', () => client.destroy());
          client.pipe(upstream).pipe(client);
          client.resume();
        },
        () => client.destroy(),
      );
    });
    const endpoint = new Promise<Endpoint>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address() as { port: number };
        resolve({ host: '127.0.0.1', port: address.port });
      });
    });
    this.relays.set(key, { server, endpoint });
    endpoint.catch(() => this.relays.delete(key));
    return endpoint;
  }

  closeFor(name: string): void {
    for (const [key, relay] of this.relays) {
      if (!key.startsWith(`${name}:`)) continue;
      relay.server.close();
      this.relays.delete(key);
    }
  }

  close(): void {
    for (const relay of this.relays.values()) relay.server.close();
    this.relays.clear();
  }
}
