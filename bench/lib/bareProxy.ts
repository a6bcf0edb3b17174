import { Agent, createServer, request } from 'node:http';
import { parseHostPort } from '../../src/core/net.js';

/**
 * The plainest node:http reverse proxy: one keep-alive agent, headers passed
 * as they are, both bodies piped. Nothing of Berth; it shows what Node's HTTP
 * machinery itself costs per request, the floor under any proxy built on it.
 * TARGET=host:port; prints "listening on http://…" when ready.
 */
const target = parseHostPort(process.env.TARGET ?? '');
if (target === null) {
  console.error('bareProxy: set TARGET=host:port');
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const server = createServer((req, res) => {
  const upstream = request({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`bare proxy to ${target.host}:${target.port} listening on http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
