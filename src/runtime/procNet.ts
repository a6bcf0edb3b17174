import type { Readable } from 'node:stream';
import { isLoopbackHost, unmapV4 } from '../core/net.js';
import type { ExecProcess, ListeningPort } from './types.js';

/** TCP_LISTEN in the `st` column of /proc/net/tcp. */
const LISTEN = '0A';
/**
 * 127.0.0.11 as /proc/net/tcp writes it: Docker's embedded DNS server listens
 * there on a random port inside every container on a user-defined network.
 * It is the engine's, not a service of the berth.
 */
const CONTAINER_DNS = '0B00007F';
const MAX_BYTES = 4 * 1024 * 1024;

/** One listening socket: its address as Node writes it ("127.0.0.1", "::", "::ffff:10.0.0.2") and port. */
export interface Listener {
  address: string;
  port: number;
}

export interface ListenerFilter {
  /** Only sockets whose inode is in the set: the ones some process holds open. */
  inodes?: ReadonlySet<string>;
  skipContainerDns?: boolean;
}

/**
 * Listening TCP sockets in the text of /proc/net/tcp and /proc/net/tcp6 (any
 * number of them concatenated; header lines are skipped), each address:port
 * once. Each line: "sl local_address rem_address st … uid timeout inode …",
 * the local address as hex "0100007F:0BB8" (127.0.0.1:3000).
 */
export function listeners(text: string, only: ListenerFilter = {}): Listener[] {
  const found = new Map<string, Listener>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    if (only.inodes !== undefined && !only.inodes.has(fields[9] as string)) continue;
    const local = fields[1] as string;
    if (only.skipContainerDns && local.startsWith(`${CONTAINER_DNS}:`)) continue;
    const colon = local.lastIndexOf(':');
    const port = parseInt(local.slice(colon + 1), 16);
    const address = kernelAddress(local.slice(0, colon));
    if (address === null || !(port > 0 && port <= 65535)) continue;
    found.set(`${address} ${port}`, { address, port });
  }
  return [...found.values()];
}

/** Ports sorted, each loopback-only when every listener on it is bound to a loopback address. */
export function summarise(list: readonly Listener[]): ListeningPort[] {
  const loopbackOnly = new Map<number, boolean>();
  for (const { address, port } of list) loopbackOnly.set(port, (loopbackOnly.get(port) ?? true) && isLoopbackHost(address));
  return [...loopbackOnly.entries()].sort((a, b) => a[0] - b[0]).map(([port, only]) => ({ port, loopbackOnly: only }));
}

export function listeningPorts(text: string, only: ListenerFilter = {}): ListeningPort[] {
  return summarise(listeners(text, only));
}

/**
 * Where to dial the listener on `port` among `list` (one berth's), or null
 * when there is none: a wildcard listener on loopback, one bound to an
 * address at exactly that address, so the connection lands on that socket
 * and no other on the same port.
 */
export function dialAddress(list: readonly Listener[], port: number): string | null {
  const own = list.filter((l) => l.port === port);
  if (own.some((l) => l.address === '0.0.0.0')) return '127.0.0.1';
  if (own.some((l) => l.address === '::')) return '::1';
  const first = own[0];
  return first === undefined ? null : unmapV4(first.address);
}

/**
 * The kernel prints each 32-bit word of an address in host byte order
 * (little-endian on every platform Berth runs on): "0100007F" is 127.0.0.1.
 */
function kernelAddress(hex: string): string | null {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return null;
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    for (let byte = 3; byte >= 0; byte--) bytes.push(parseInt(hex.slice(word + byte * 2, word + byte * 2 + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  return compressV6(groups);
}

/** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
function compressV6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (bestStart === -1) return text.join(':');
  return `${text.slice(0, bestStart).join(':')}::${text.slice(bestStart + bestLength).join(':')}`;
}

/** The text of /proc/net/tcp and tcp6 as the berth sees them, for runtimes whose berths have their own network namespace: no agent, only `cat`. */
async function procNetByExec(run: (command: string[]) => Promise<ExecProcess>): Promise<string> {
  // tcp6 is absent where IPv6 is off: cat still prints tcp and only its exit code says so.
  const exec = await run(['cat', '/proc/net/tcp', '/proc/net/tcp6']);
  exec.stdin.end();
  exec.stderr.resume();
  const [text] = await Promise.all([readAll(exec.stdout), exec.exited]);
  return text;
}

/** The berth's own listening sockets by exec, with their addresses, without Docker's embedded DNS. */
export async function listenersByExec(run: (command: string[]) => Promise<ExecProcess>): Promise<Listener[]> {
  return listeners(await procNetByExec(run), { skipContainerDns: true });
}

/** The berth's own listening ports by exec, without Docker's embedded DNS. */
export async function listeningByExec(run: (command: string[]) => Promise<ExecProcess>): Promise<ListeningPort[]> {
  return summarise(await listenersByExec(run));
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.length > MAX_BYTES) break;
  }
  return text;
}
