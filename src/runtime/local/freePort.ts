import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port tried: below it sit the well-known services of a host. */
const LOWEST = 10_000;
const ATTEMPTS = 50;

/** A loopback port that is free right now: see freePortOn. */
export function freeLoopbackPort(): Promise<number> {
  return freePortOn('127.0.0.1');
}

/**
 * A port of `host` (one of this machine's addresses) that is free right now;
 * the listener closes at once so the berth can bind it. It is taken from
 * below the kernel's ephemeral range where there is room: a port the kernel
 * picks (bind to 0) comes from the range it also hands every outgoing
 * connection, so one of the gateway's own proxied connections could take it
 * before the berth binds it. Another process can still take it in between,
 * which the berth then reports as "address in use" on its own.
 */
export async function freePortOn(host: string): Promise<number> {
  const below = ephemeralRangeStart();
  if (below - LOWEST >= 1_000) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = await bindable(host, LOWEST + Math.floor(Math.random() * (below - LOWEST)));
      if (port !== null) return port;
    }
  }
  const port = await bindable(host, 0);
  if (port === null) throw new Error(`no free port: the kernel refused a listener on ${host} port 0`);
  return port;
}

/** Where Linux starts handing out ports on its own (ip_local_port_range); elsewhere, IANA's dynamic range. */
function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 49_152;
  } catch {
    return 49_152;
  }
}

/** The port a listener on `host` got when asked for `port` (0: the kernel's pick), or null when it is taken. */
function bindable(host: string, port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err)));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => resolve(address !== null && typeof address === 'object' ? address.port : null));
    });
  });
}
