import { createServer } from 'node:net';

/**
 * A loopback port that is free right now. The kernel picks it; the listener
 * closes at once so the berth can bind it. Another process could take it in
 * between, which the berth then reports as "address in use" on its own.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('the loopback listener reported no port'));
      });
    });
  });
}
