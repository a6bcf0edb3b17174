import { createServer, type Server, type Socket } from 'node:net';
import type { ClientInfo, Connection, Server as SshProtocolServer } from 'ssh2';
import type { MaxStartups } from '../config/maxStartups.js';
import { unmapV4 } from '../core/net.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { StartupGate, type StartupRefusal } from './startups.js';
import { DISCONNECT, disconnectWithReason } from './wire.js';

export interface AdmissionOptions {
  /** Time from accept to authenticated (0: no limit), as sshd's LoginGraceTime. */
  loginGraceSeconds: number;
  maxStartups: MaxStartups;
  /** Unauthenticated connections one source may hold (0: no cap), as sshd's PerSourceMaxStartups. */
  perSourceMaxStartups: number;
  logger: Logger;
  metrics: Metrics;
}

/** The listener in front of ssh2's, which sees a connection only once its version line has arrived. */
export interface Admission {
  listener: Server;
  /** ssh2's connection for an admitted socket: its authentication releases the slot and stops the grace clock. */
  attach(client: Connection, info: ClientInfo): void;
  /** Ends every connection not yet authenticated. */
  close(): void;
}

/** The line a dropped client is sent instead of a version line; RFC 4253 lets a server send text before it, ssh shows it with -v. */
const REFUSED_LINE = 'berth: too many connections are authenticating; try again shortly\r\n';
/** Drops are logged once as they start, then as one summary per window, so a flood cannot flood the log. */
const DROP_SUMMARY_MS = 10_000;
/** How long a connection past its grace may take to read the disconnect before its socket is destroyed. */
const GRACE_CLOSE_MS = 1000;
/** Sources named in a drop summary. */
const SUMMARY_SOURCES = 10;

interface Pending {
  socket: Socket;
  /** ssh2's connection, once the client's version line has arrived. */
  client: Connection | null;
  /** Frees the slot and stops the grace clock; idempotent. */
  settle: () => void;
}

/**
 * Admission of SSH connections before authentication: each accepted socket
 * takes a slot of ssh.maxStartups and ssh.perSourceMaxStartups or is closed
 * at once; an admitted one has ssh.loginGraceSeconds to authenticate, then is
 * disconnected. Its slot is freed when it authenticates or closes. Every
 * drop is logged (summarised under a flood).
 */
export function admission(server: SshProtocolServer, options: AdmissionOptions): Admission {
  const { logger, metrics } = options;
  const gate = new StartupGate(options.maxStartups, options.perSourceMaxStartups);
  const pending = new Map<string, Pending>();
  const drops = new DropLog(logger);
  const graceMs = options.loginGraceSeconds * 1000;

  const listener = createServer({ noDelay: true }, (socket) => {
    const address = socket.remoteAddress;
    const key = socketKey(address, socket.remotePort);
    if (address === undefined || key === null) return socket.destroy();
    const verdict = gate.admit(address);
    if (!verdict.admitted) {
      drops.record(verdict.code, unmapV4(address), verdict.unauthenticated);
      metrics.sshDroppedConnections.inc({ code: verdict.code });
      socket.on('error', () => undefined);
      socket.write(REFUSED_LINE);
      socket.destroySoon();
      return;
    }
    let grace: NodeJS.Timeout | null = null;
    const entry: Pending = {
      socket,
      client: null,
      settle: () => {
        if (grace) clearTimeout(grace);
        verdict.release();
        if (pending.get(key) === entry) pending.delete(key);
      },
    };
    pending.set(key, entry);
    socket.once('close', entry.settle);
    if (graceMs > 0) {
      grace = setTimeout(() => {
        logger.info(
          { code: 'login_grace_expired', remote: `${unmapV4(address)}:${socket.remotePort}`, versionSent: entry.client !== null },
          'ssh connection did not authenticate within ssh.loginGraceSeconds; disconnecting',
        );
        metrics.sshDroppedConnections.inc({ code: 'login_grace_expired' });
        entry.settle();
        if (entry.client) disconnectWithReason(entry.client, DISCONNECT.byApplication, `authentication took longer than ${options.loginGraceSeconds} s`);
        socket.destroySoon();
        // A client that reads nothing must not keep the socket open either.
        setTimeout(() => socket.destroy(), GRACE_CLOSE_MS).unref();
      }, graceMs);
    }
    server.injectSocket(socket);
  });

  return {
    listener,
    attach(client, info) {
      const key = socketKey(info.ip, info.port);
      const entry = key === null ? undefined : pending.get(key);
      if (!entry) return;
      entry.client = client;
      client.once('ready', entry.settle);
    },
    close() {
      for (const entry of pending.values()) entry.socket.destroy();
      drops.close();
    },
  };
}

/** One TCP connection on one listener: its peer's address and port. */
function socketKey(address: string | undefined, port: number | undefined): string | null {
  return address === undefined || port === undefined ? null : `${address}|${port}`;
}

/**
 * The log of refused connections: the first of a burst at warn with its
 * source, then one summary per DROP_SUMMARY_MS with counts by reason and the
 * busiest sources, until a window passes without drops.
 */
class DropLog {
  private window: { byCode: Map<StartupRefusal, number>; bySource: Map<string, number>; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly logger: Logger) {}

  record(code: StartupRefusal, source: string, unauthenticated: number): void {
    if (this.window === null) {
      this.logger.warn({ code, remote: source, unauthenticated }, 'ssh connection dropped before authentication (ssh.maxStartups, ssh.perSourceMaxStartups); later drops are summarised');
      this.window = { byCode: new Map(), bySource: new Map(), timer: setTimeout(() => this.summarise(), DROP_SUMMARY_MS).unref() };
      return;
    }
    const { byCode, bySource } = this.window;
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    bySource.set(source, (bySource.get(source) ?? 0) + 1);
  }

  close(): void {
    if (this.window) clearTimeout(this.window.timer);
    this.window = null;
  }

  private summarise(): void {
    const window = this.window;
    this.window = null;
    if (window === null || window.byCode.size === 0) return;
    const dropped = [...window.byCode.values()].reduce((a, b) => a + b, 0);
    const sources = [...window.bySource].sort((a, b) => b[1] - a[1]).slice(0, SUMMARY_SOURCES);
    this.logger.warn(
      { code: 'ssh_startups_dropped', dropped, byReason: Object.fromEntries(window.byCode), sources: Object.fromEntries(sources), distinctSources: window.bySource.size, windowSeconds: DROP_SUMMARY_MS / 1000 },
      `dropped ${dropped} more ssh connections before authentication`,
    );
    // Drops go on: the next one opens a new window (logged again at once).
  }
}
