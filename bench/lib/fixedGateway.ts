import { createServer } from 'node:http';
import { configSchema } from '../../src/config/schema.js';
import { parseHostPort } from '../../src/core/net.js';
import { createProxy, stripRules, type UpgradeOptions } from '../../src/http/proxy/index.js';
import { connectTcp } from '../../src/runtime/connectTcp.js';

/**
 * A minimal gateway: one node:http listener sending every request and upgrade
 * through the proxy to one fixed berth, TARGET=host:port. It strips what the
 * real gateway strips by default (identity headers, token, session cookie) so
 * the bench pays the same header work. For benches and tests that need the
 * proxy in a process of its own; prints "listening on http://…" when ready.
 */
const target = parseHostPort(process.env.TARGET ?? '');
if (target === null) {
  console.error('fixedGateway: set TARGET=host:port');
  process.exit(2);
}

const { auth } = configSchema.parse({});
const options: UpgradeOptions = {
  scheme: 'http',
  strip: stripRules({
    headers: [...auth.header.userHeaders, ...auth.header.emailHeaders, ...auth.header.groupsHeaders, 'X-Berth-Token'],
    cookies: ['berth_session'],
  }),
};
const { host } = target;
const proxy = createProxy((berth) => connectTcp(berth.name, host, berth.port));
const berth = { name: 'bench', port: target.port };
const server = createServer((req, res) => proxy.web(req, res, berth, options));
server.on('upgrade', (req, socket, head) => proxy.upgrade(req, socket, head, berth, options));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`fixed gateway to ${target.host}:${target.port} listening on http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`);
});

process.once('SIGTERM', () => {
  proxy.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
