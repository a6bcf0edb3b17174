import { randomBytes } from 'node:crypto';
import type { ClientInfo, Connection } from 'ssh2';
import type { AuditRecorder } from '../audit/kinds.js';
import type { Config } from '../config/schema.js';
import { joinHostPort, unmapV4 } from '../core/net.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BerthDirectory } from '../spawner/types.js';
import { tooWeak, type OfferedAlgorithms } from './algorithms.js';
import { connectionAudit } from './audit.js';
import { ConnectionAuth, type AuthPolicy, type AuthRefusal } from './auth/connectionAuth.js';
import { handleDirectTcpip, refuseRemoteForwarding } from './forwarding.js';
import { connectionTimers, type SessionHandle, type SessionRegistry } from './limits.js';
import { handleSession } from './session.js';
import type { Recordings } from '../terminal/recordings.js';
import { channelRefuser, DISCONNECT, disconnectWithReason } from './wire.js';

/** How long a client told to go may take to close its sessions and leave before the connection is cut. */
const SESSION_END_GRACE_MS = 3000;

export interface ConnectionDeps {
  config: Config;
  directory: BerthDirectory;
  logger: Logger;
  metrics: Metrics;
  auth: AuthPolicy;
  sessions: SessionRegistry;
  algorithms: OfferedAlgorithms;
  audit: AuditRecorder;
  recordings: Recordings | undefined;
}

/**
 * One client connection through its life: authentication, then its session
 * and forwarding channels for the authenticated user, under the connection's
 * idle and length limits. Returns a function that ends it with a notice.
 */
export function handleConnection(client: Connection, info: ClientInfo, deps: ConnectionDeps): (notice: string) => void {
  const { config, directory } = deps;
  const address = unmapV4(info.ip);
  const connectionId = randomBytes(16).toString('hex');
  const logger = deps.logger.child({ connectionId, remote: `${address}:${info.port}` });
  logger.debug({ clientVersion: info.header.identRaw }, 'ssh connection opened');
  deps.audit.record({ kind: 'ssh.connected', actor: null, via: null, source: address, target: null, outcome: 'ok', detail: { client: info.header.identRaw } });
  const open = new Set<SessionHandle>();
  let ending: NodeJS.Timeout | null = null;
  // OpenSSH exits on a disconnect without printing what it still holds, so sessions close first, each with its notice.
  const end = (notice: string) => {
    if (ending) return;
    if (open.size === 0) return client.end();
    ending = setTimeout(() => client.end(), SESSION_END_GRACE_MS);
    for (const session of open) session.end(notice);
  };

  // Errors here are the client's (resets, bad packets, keepalive timeouts); they end this connection only.
  client.on('error', (err: Error & { level?: string }) => logger.debug({ error: err.message, level: err.level }, 'ssh connection error'));

  client.on('handshake', (negotiated) => {
    const weak = tooWeak(negotiated, deps.algorithms);
    if (weak === null) return;
    logger.warn({ code: 'weak_algorithm', algorithm: weak }, 'ssh client chose an algorithm the gateway does not allow; disconnecting');
    disconnectWithReason(client, DISCONNECT.keyExchangeFailed, `the gateway does not allow ${weak}; use a current OpenSSH client`);
  });

  const auth = new ConnectionAuth(
    deps.auth,
    { remoteAddress: `${address}:${info.port}`, connectionId, clientVersion: info.header.identRaw },
    address,
    logger,
    deps.audit,
    (last) => disconnectWithReason(client, DISCONNECT.noMoreAuthMethods, exhaustedReason(last, deps.auth.maxAttempts)),
  );
  client.on('authentication', (ctx) => auth.handle(ctx));

  client.once('ready', () => {
    const user = auth.user as string;
    const userLogger = logger.child({ user });
    const audit = connectionAudit(deps.audit, user, auth.method, address);
    const timers = connectionTimers({
      idleSeconds: config.ssh.idleTimeoutSeconds,
      maxSeconds: config.ssh.maxSessionSeconds,
      onIdle: () => {
        userLogger.info('ssh connection idle; closing');
        end(`closing this connection after ${config.ssh.idleTimeoutSeconds} s without activity.`);
      },
      onMaxLength: () => {
        userLogger.info('ssh connection reached its maximum length; closing');
        end(`closing this connection: it reached the maximum length of ${config.ssh.maxSessionSeconds} s.`);
      },
    });
    client.once('close', () => timers.stop());
    const track = (session: SessionHandle) => {
      const release = deps.sessions.admit(user, session);
      open.add(session);
      return () => {
        open.delete(session);
        release();
        // Not disconnecting here: a client reading the session's last output, the notice among it, and the
        // disconnect in one go exits without printing it. It leaves by itself once its channels are closed;
        // the `ending` timer cuts those that hold only forwards.
      };
    };
    // What a spawn's config webhook is told of this connection (ContainerSSH's connection metadata).
    const launch = { remoteAddress: joinHostPort(address, info.port), connectionId, clientVersion: info.header.identRaw };
    client.on('session', (accept) =>
      handleSession(accept(), { user, config, directory, logger: userLogger, metrics: deps.metrics, track, clock: timers, audit, launch, recordings: deps.recordings }),
    );
    const refuseChannel = channelRefuser(client);
    client.on('tcpip', (accept, reject, request) =>
      handleDirectTcpip(accept, reject, request, { user, config, directory, logger: userLogger, clock: timers, refuseChannel, audit, launch }),
    );
    client.on('request', (_accept, reject, name) => refuseRemoteForwarding(reject, name, config, userLogger));
  });

  client.once('close', () => {
    if (ending) clearTimeout(ending);
    logger.debug('ssh connection closed');
  });
  return end;
}

/** The description of the disconnect after the last allowed failure: what went wrong, and what to do. */
function exhaustedReason(last: AuthRefusal, attempts: number): string {
  if (last === 'auth_rate_limited') return 'Too many failed authentication attempts from your address; wait a minute and retry';
  return `Too many authentication failures (${attempts}); offer only the key registered for your berth (ssh -o IdentitiesOnly=yes -i <key>)`;
}
