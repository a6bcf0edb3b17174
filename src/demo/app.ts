import { homedir } from 'node:os';
import { createDemoServer } from './server.js';

/**
 * Entry point of the demo berth: `node dist/demo/app.js` (or via tsx from the
 * sources). Listens on HOST (default 127.0.0.1) and PORT as the runtime
 * passes them; PORT=0 takes any free port, and the line printed on start
 * names the real one.
 */
const host = process.env.HOST || '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`berth demo: PORT must be a port number, not "${process.env.PORT}"`);
  process.exit(2);
}
const user = process.env.BERTH_USER || 'nobody';
const home = process.env.HOME || homedir();

const { server, stop } = createDemoServer({ user, home, port });
server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`berth demo app for ${user} listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}`);
});
server.on('error', (err) => {
  console.error(`berth demo: ${err.message}`);
  process.exit(1);
});

const exit = (): void => {
  // A client that ignores the WebSocket close handshake must not keep the berth from stopping.
  setTimeout(() => process.exit(0), 2_000).unref();
  void stop().then(() => process.exit(0));
};
process.once('SIGTERM', exit);
process.once('SIGINT', exit);
