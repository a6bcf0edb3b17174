import type { Socket } from 'node:net';
import { readFile, readlink } from 'node:fs/promises';
import type { Logger } from '../log/logger.js';
import { connectFailure, notListening } from './connectTcp.js';
import { dialAddress, listeners, type Listener } from './procNet.js';
import { NamespaceRelay } from './namespaceRelay.js';

/** Tried first, in this order: where wildcard listeners and dev servers bound to "localhost" answer. */
const LOOPBACK = ['127.0.0.1', '::1'];

/** A relay nobody used for this long is ended; the next connection starts another. */
const RELAY_IDLE_MS = 5 * 60_000;

interface BerthRelay {
  pid: number;
  /** The namespace the relay entered, as /proc/<pid>/ns/net reads ("net:[4026532291]"): a container that restarted has another; null while it is read. */
  netns: string | null;
  relay: Promise<NamespaceRelay>;
  idle: NodeJS.Timeout;
}

/**
 * A runtime's way into a berth's own loopback (docker: a container's; local:
 * a sandbox's): one relay per berth inside its network namespace
 * (./namespaceRelay.ts), started on the first
 * connection and ended when idle or when the berth stops. Each connection
 * costs one IPC round trip and the relay's connect; the bytes then flow on a
 * kernel socket the gateway holds, as fast as the bridge path.
 * Listeners are read from /proc/<pid>/net/tcp{,6} on the host, which show the
 * container's namespace, so neither discovery nor connect needs an exec.
 */
export class NamespaceReach {
  private readonly relays = new Map<string, BerthRelay>();

  /** `enter`: the argv prefix that runs a program in the network namespace of `pid` (./namespaceRelay.ts). */
  constructor(
    private readonly logger: Logger,
    private readonly enter: (pid: number) => string[],
  ) {}

  /** The pid of the berth's container process from the last connection, while that process still runs in the same namespace. */
  async knownPid(name: string): Promise<number | null> {
    const entry = this.relays.get(name);
    if (!entry) return null;
    // Still starting: the connection waits for that relay (which fails by itself if the process is gone).
    if (entry.netns === null) return entry.pid;
    if ((await netnsOf(entry.pid)) === entry.netns) return entry.pid;
    this.forget(name);
    return null;
  }

  /** The container's listening sockets as its namespace sees them, or null when /proc of `pid` cannot be read here. */
  async listeners(pid: number): Promise<Listener[] | null> {
    try {
      const [tcp, tcp6] = await Promise.all([readFile(`/proc/${pid}/net/tcp`, 'utf8'), readFile(`/proc/${pid}/net/tcp6`, 'utf8').catch(() => '')]);
      return listeners(tcp + tcp6, { skipContainerDns: true });
    } catch {
      return null;
    }
  }

  /**
   * A socket to `port` inside the namespace of `pid` (the berth `name`'s
   * container process). Every socket in the namespace is the berth's, so the
   * loopback addresses are tried first (a wildcard or loopback listener, the
   * common case: one relay round trip); only when both refuse are the
   * namespace's listeners read, for one bound to another address. Reading
   * /proc/<pid>/net/tcp walks the kernel's whole table, milliseconds on a
   * busy host, so it is kept off the common path. Rejects with a BerthError
   * when nothing listens; with a plain Error when the namespace cannot be
   * entered at all (the caller falls back to the bridge).
   */
  async connect(name: string, pid: number, port: number): Promise<Socket> {
    const relay = await this.relayFor(name, pid);
    const attempt = async (hosts: string[]): Promise<Socket> => {
      try {
        return await relay.connect(port, hosts);
      } catch (err) {
        if (!relay.running) this.forget(name);
        throw connectFailure(name, port, err as Error, `${hosts.join(' or ')} inside its network namespace`);
      }
    };
    try {
      return await attempt(LOOPBACK);
    } catch (err) {
      if (!refused(err)) throw err;
    }
    const found = await this.listeners(pid);
    if (found === null) throw new Error(`/proc/${pid}/net/tcp cannot be read: the gateway does not see the container's processes (it runs in another PID namespace)`);
    const address = dialAddress(found, port);
    if (address === null || LOOPBACK.includes(address)) throw notListening(name, port, ' inside its network namespace');
    return attempt([address]);
  }

  /** Ends the berth's relay (it stopped, or its container is gone). */
  forget(name: string): void {
    const entry = this.relays.get(name);
    if (!entry) return;
    this.relays.delete(name);
    clearTimeout(entry.idle);
    entry.relay.then(
      (relay) => relay.close(),
      () => undefined,
    );
  }

  close(): void {
    for (const name of [...this.relays.keys()]) this.forget(name);
  }

  private relayFor(name: string, pid: number): Promise<NamespaceRelay> {
    const known = this.relays.get(name);
    if (known?.pid === pid) {
      known.idle.refresh();
      return known.relay;
    }
    if (known) this.forget(name);
    // Kept before anything is awaited: the connections of a berth's first burst of requests share
    // this one relay; each starting its own would leave all but the last running, unclosed.
    const relay = netnsOf(pid).then((netns) => {
      if (netns === null) throw new Error(`/proc/${pid}/ns/net cannot be read: the container's process is gone or not visible from the gateway`);
      entry.netns = netns;
      return NamespaceRelay.start(this.enter(pid));
    });
    const entry: BerthRelay = { pid, netns: null, relay, idle: this.idleTimer(name) };
    this.relays.set(name, entry);
    entry.relay.then(
      () => this.logger.debug({ berth: name, pid }, 'network namespace relay started'),
      () => this.relays.get(name) === entry && this.forget(name),
    );
    return entry.relay;
  }

  private idleTimer(name: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.forget(name), RELAY_IDLE_MS);
    timer.unref();
    return timer;
  }
}

/** The relay's connect was refused (or the address is absent, as ::1 is where IPv6 is off): nothing listens there. */
function refused(err: unknown): boolean {
  const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'EADDRNOTAVAIL' || code === 'ENETUNREACH';
}

async function netnsOf(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/ns/net`).catch(() => null);
}
