/**
 * The relay the docker runtime starts inside a berth's network namespace
 * (`nsenter --target <pid> --net -- node nsRelay.js`, see ./namespaceRelay.ts),
 * one per berth, on first use. For each request on its IPC channel it opens a
 * TCP connection inside the namespace and hands the connected socket back
 * (Node's IPC passes the file descriptor), so the gateway holds a kernel
 * socket in the berth's namespace and the relay never touches a byte of it.
 *
 * It dials only loopback or an address of one of this namespace's own
 * interfaces, whatever it is asked: a request can never make it a way onto
 * another network. It loads only a few small modules, so it starts fast.
 */
import { isIP, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isLoopbackHost, unmapV4 } from '../../core/net.js';
import { connectTcp } from '../connectTcp.js';

/** A request: dial the first of `hosts` that accepts on `port`. */
export interface RelayRequest {
  id: number;
  port: number;
  hosts: string[];
}

export type RelayReply = { id: number; ok: true; host: string } | { id: number; ok: false; code: string; message: string };

/** Sent once the relay runs inside the namespace, with the namespace's own addresses. */
export interface RelayReady {
  ready: true;
  addresses: string[];
}

function ownAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}

/** Loopback, or an address this namespace itself has. */
export function isOwnAddress(host: string, own: readonly string[]): boolean {
  const plain = unmapV4(host);
  return isIP(plain) !== 0 && (isLoopbackHost(plain) || own.includes(plain));
}

async function serve(request: RelayRequest): Promise<void> {
  const send = (reply: RelayReply, socket?: Socket) => process.send?.(reply, socket);
  const { id, port, hosts } = request;
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !Array.isArray(hosts) || hosts.length === 0) {
    send({ id, ok: false, code: 'EINVAL', message: 'a request names a port from 1 to 65535 and at least one host' });
    return;
  }
  const own = ownAddresses();
  let last: NodeJS.ErrnoException | null = null;
  for (const host of hosts) {
    if (typeof host !== 'string' || !isOwnAddress(host, own)) {
      send({ id, ok: false, code: 'EACCES', message: `${String(host)} is not an address of this berth` });
      return;
    }
    try {
      const socket = await connectTcp('relay', host, port, { paused: true });
      send({ id, ok: true, host }, socket);
      return;
    } catch (err) {
      last = (err as Error).cause as NodeJS.ErrnoException;
    }
  }
  send({ id, ok: false, code: last?.code ?? 'ECONNREFUSED', message: last?.message ?? 'refused' });
}

/** Started as a script (not imported for its types or isOwnAddress): serve the IPC channel until it closes. */
if (process.send !== undefined && process.env.BERTH_NS_RELAY === '1') {
  process.on('message', (request: RelayRequest) => void serve(request));
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, addresses: ownAddresses() } satisfies RelayReady);
}
