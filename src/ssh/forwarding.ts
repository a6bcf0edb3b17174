import type { Duplex } from 'node:stream';
import type { AcceptConnection, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import type { Config } from '../config/schema.js';
import { asBerthError, BerthError } from '../core/errors.js';
import { safeName } from '../core/safeName.js';
import type { Logger } from '../log/logger.js';
import type { LaunchRequest } from '../spawner/plan.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { SshAudit } from './audit.js';
import type { IdleClock } from './limits.js';
import { OPEN_FAILURE, type RefuseChannel } from './wire.js';

export interface ForwardContext {
  user: string;
  config: Config;
  directory: BerthDirectory;
  logger: Logger;
  clock: IdleClock;
  /** Refuses the channel with a reason the client shows ("open failed: administratively prohibited: …"). */
  refuseChannel: RefuseChannel;
  audit: SshAudit;
  /** What this connection tells a spawn (./connection.ts). */
  launch?: LaunchRequest;
}

/** Why a forwarding request was refused; stable, for logs and alerts. */
export type ForwardRefusal = 'forward_destination' | 'forward_port' | 'forward_unreachable' | 'remote_forward_disabled' | 'remote_forward_unsupported';

/**
 * `ssh -L` and `ssh -D` (direct-tcpip): only into the user's own berth, named
 * as localhost, 127.0.0.1, ::1 or the berth's safe name, and only to
 * ssh.forwarding.allowedPorts when set. Anything else is refused before any
 * connection is made, so the gateway is never a way onto its own network.
 * The berth is started if need be; an open forward holds it active.
 */
export function handleDirectTcpip(
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  context: ForwardContext,
): void {
  const { user, config, directory } = context;
  const logger = context.logger.child({ destination: info.destIP, port: info.destPort });
  const destination = `${info.destIP}:${info.destPort}`;
  const refuse = (code: ForwardRefusal, reason: string, detail?: string) => {
    logger.warn({ code, detail }, 'ssh port forwarding refused');
    context.audit('ssh.session.opened', 'refused', { type: 'forward', destination, code });
    const failure = code === 'forward_unreachable' ? OPEN_FAILURE.connectFailed : OPEN_FAILURE.administrativelyProhibited;
    context.refuseChannel(reject, failure, `berth: ${reason}`);
  };
  if (!isOwnBerth(info.destIP, user)) {
    return refuse('forward_destination', `forwarding reaches only your own environment (localhost, 127.0.0.1, ::1 or ${safeName(user)}), not ${info.destIP}.`);
  }
  const allowed = config.ssh.forwarding.allowedPorts;
  if (allowed !== null && !allowed.includes(info.destPort)) {
    return refuse('forward_port', `forwarding to port ${info.destPort} is not allowed; the ports allowed are ${allowed.join(', ') || 'none'}.`);
  }
  void (async () => {
    let socket: Duplex;
    try {
      const reach = async () => {
        await directory.ready(user, 'ssh', undefined, context.launch);
        return directory.connect(directory.target(user, info.destPort));
      };
      socket = await context.clock.busy(reach());
    } catch (err) {
      // A socket error names internal addresses: the client is told only what it asked for.
      const reason = err instanceof BerthError ? err.userMessage : `nothing in your environment answers on port ${info.destPort}; start a server on it and try again.`;
      return refuse('forward_unreachable', reason, asBerthError(err).logMessage);
    }
    const channel = accept();
    const release = directory.hold(user);
    logger.debug('ssh port forwarding opened');
    context.audit('ssh.session.opened', 'ok', { type: 'forward', destination });
    socket.pipe(channel).pipe(socket);
    socket.on('data', context.clock.activity);
    channel.on('data', context.clock.activity);
    socket.on('error', (err) => logger.debug({ error: err.message }, 'forwarded connection failed'));
    channel.on('error', (err: Error) => logger.debug({ error: err.message }, 'forwarding channel failed'));
    // The forwarded connection ends with whichever side goes first; a client that vanishes may leave its channel half-closed a while.
    let ended = false;
    const auditClosed = () => {
      if (!ended) context.audit('ssh.session.closed', 'ok', { type: 'forward', destination });
      ended = true;
    };
    socket.once('close', () => {
      channel.end();
      auditClosed();
    });
    channel.once('close', () => {
      socket.destroy();
      release();
      auditClosed();
    });
  })();
}

/**
 * `ssh -R` (tcpip-forward): refused. Off by default; with
 * ssh.forwarding.remote it still is, until runtimes can listen inside a berth.
 */
export function refuseRemoteForwarding(reject: RejectConnection | undefined, name: string, config: Config, logger: Logger): void {
  const code: ForwardRefusal = config.ssh.forwarding.remote ? 'remote_forward_unsupported' : 'remote_forward_disabled';
  logger.warn({ code, request: name }, 'ssh remote forwarding refused');
  reject?.();
}

/** The names by which a user means their own berth. */
export function isOwnBerth(host: string, user: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost' || name === '127.0.0.1' || name === '::1' || name === safeName(user);
}
