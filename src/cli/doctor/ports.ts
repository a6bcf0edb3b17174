import { createServer } from 'node:net';
import type { Config } from '../../config/schema.js';
import { parseHostPort } from '../../core/net.js';
import { fail, ok, type CheckResult } from './types.js';

const CHECK = 'ports';

/** Whether listen.http and listen.ssh can be bound, by binding each for a moment. */
export async function portsCheck(config: Config): Promise<CheckResult> {
  const wanted = [
    { key: 'listen.http', value: config.listen.http },
    ...(config.listen.ssh === null ? [] : [{ key: 'listen.ssh', value: config.listen.ssh }]),
  ];
  const problems: string[] = [];
  for (const { key, value } of wanted) {
    const address = parseHostPort(value);
    if (address === null) continue; // the schema has refused it already
    const code = await bindError(address.host, address.port);
    if (code === 'EADDRINUSE') problems.push(`${key} ${value} is taken (a gateway already running? ss -ltnp 'sport = :${address.port}' names the process)`);
    else if (code === 'EACCES') problems.push(`${key} ${value} is a privileged port this user may not bind (use a port above 1023 behind the proxy, or give node CAP_NET_BIND_SERVICE)`);
    else if (code === 'EADDRNOTAVAIL') problems.push(`${key} ${value}: no interface of this host has the address ${address.host}`);
    else if (code !== null) problems.push(`${key} ${value} cannot be bound: ${code}`);
  }
  if (problems.length === 0) return ok(CHECK, `${wanted.map((w) => `${w.key} ${w.value}`).join(' and ')} can be bound`);
  return fail(CHECK, problems.join('; '), 'stop what holds the port, or set listen.http / listen.ssh (BERTH_LISTEN_HTTP, BERTH_LISTEN_SSH) to free addresses');
}

function bindError(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}
