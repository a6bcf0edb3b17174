import { connect, createServer, type AddressInfo } from 'node:net';
import type { Config } from '../../config/schema.js';
import { cidrMatcher, parseCidr, parseHostPort, unmapV4 } from '../../core/net.js';
import { publicEndpoint } from './publicUrl.js';
import { fail, ok, skip, withTimeout, type CheckResult } from './types.js';

const CHECK = 'proxy-trust';

/**
 * Whether the auth proxy's connections come from an address in
 * auth.header.trustedProxies (else every request is refused 403). The proxy
 * is taken to be where publicUrl's host resolves. On this host, the address
 * it connects from is found by really connecting: the doctor listens for a
 * moment on listen.http's address (on a free port: the kernel picks the
 * source address by destination, not port) and records the peer address.
 * Elsewhere, its resolved addresses are what the gateway will see, unless a
 * balancer sits between (then list the balancer's addresses).
 */
export async function proxyTrustCheck(config: Config): Promise<CheckResult> {
  if (config.auth.mode !== 'header') return skip(CHECK, `auth.mode is ${config.auth.mode}: no identity headers are believed`);
  const trusted = config.auth.header.trustedProxies;
  const fix = (addresses: string[]) =>
    `add the proxy's address to auth.header.trustedProxies (${addresses.map((a) => `"${a}/${a.includes(':') ? 128 : 32}"`).join(', ')}), or point the proxy at listen.http from an address already listed`;
  const everyone = trusted.filter((c) => parseCidr(c)?.prefix === 0);
  if (everyone.length > 0) {
    return fail(CHECK, `auth.header.trustedProxies has ${everyone.join(', ')}: anyone who reaches listen.http ${config.listen.http} can claim to be any user`, 'list only the auth proxy\'s addresses');
  }
  const endpoint = await publicEndpoint(config);
  if ('problem' in endpoint) return fail(CHECK, `${endpoint.problem}, so the proxy's address is unknown`, 'set publicUrl to the auth proxy\'s address');
  const isTrusted = cidrMatcher(trusted);
  let seen: string[];
  let how: string;
  if (endpoint.onThisHost) {
    const listen = parseHostPort(config.listen.http);
    if (listen === null) return skip(CHECK, 'listen.http is not host:port (see config check)');
    try {
      seen = [await peerAddressTowards(listen.host)];
    } catch (err) {
      return fail(CHECK, `cannot connect to ${listen.host} on this host to see the proxy's source address: ${(err as Error).message}`, 'check listen.http\'s address');
    }
    how = `a proxy on this host (publicUrl's host ${endpoint.url.hostname} is this host) connects to listen.http ${config.listen.http} from`;
  } else {
    seen = endpoint.addresses;
    how = `the proxy at publicUrl's host ${endpoint.url.hostname} connects from (assuming no balancer between)`;
  }
  const untrusted = seen.filter((a) => !isTrusted(a));
  if (untrusted.length === 0) return ok(CHECK, `${how} ${seen.join(', ')}, within auth.header.trustedProxies (${trusted.join(', ')})`);
  return fail(CHECK, `${how} ${untrusted.join(', ')}, outside auth.header.trustedProxies (${trusted.join(', ')}): its requests would be refused 403`, fix(untrusted));
}

/** The source address a process on this host gets when it connects to `host`, by connecting to a listener there. */
async function peerAddressTowards(host: string): Promise<string> {
  // A wildcard listener is reached by proxies on this host through loopback.
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const server = createServer();
  const peer = new Promise<string>((resolve) => server.once('connection', (socket) => {
    resolve(unmapV4(socket.remoteAddress ?? ''));
    socket.destroy();
  }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, target, resolve);
  });
  try {
    const client = connect((server.address() as AddressInfo).port, target);
    client.on('error', () => undefined);
    try {
      return await withTimeout(`a connection to ${target}`, peer);
    } finally {
      client.destroy();
    }
  } finally {
    server.close();
  }
}
