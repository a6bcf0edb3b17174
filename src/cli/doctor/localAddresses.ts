import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { unmapV4 } from '../../core/net.js';
import { withTimeout } from './types.js';

/** Every address of this host's interfaces (loopback included). */
export function localAddresses(): Set<string> {
  const found = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) found.add(a.address);
  return found;
}

export function isLocalAddress(address: string): boolean {
  const plain = unmapV4(address);
  return plain.startsWith('127.') || localAddresses().has(plain);
}

/** The addresses a name resolves to, as the gateway's own resolver gives them (getaddrinfo: /etc/hosts, then DNS). */
export async function resolveAll(host: string): Promise<string[]> {
  const answers = await withTimeout(`resolving ${host}`, lookup(host.replace(/^\[(.*)\]$/, '$1'), { all: true }));
  return answers.map((a) => a.address);
}
