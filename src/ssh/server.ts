import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { parseMaxStartups } from '../config/maxStartups.js';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { parseHostPort, type HostPort } from '../core/net.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BerthDirectory } from '../spawner/types.js';
import { NO_AUDIT, type AuditRecorder } from '../audit/kinds.js';
import type { Store } from '../store/store.js';
import { admission } from './admission.js';
import { offeredAlgorithms, type OfferedAlgorithms } from './algorithms.js';
import { AuthorizedKeysDir } from './auth/authorizedKeysDir.js';
import { BerthKeys, type BerthKeyReader } from './auth/berthKeys.js';
import type { AuthPolicy } from './auth/connectionAuth.js';
import { FailureLimiter } from './auth/limiter.js';
import { StoredKeys } from './auth/storedKeys.js';
import type { KeyAuthority } from './auth/types.js';
import { WebhookAuthority } from './auth/webhook.js';
import { handleConnection } from './connection.js';
import { gatewayHostKeys, hostKeyFingerprints } from './hostKeys.js';
import { SessionRegistry } from './limits.js';
import { RECORDING_BANNER, type Recordings } from '../terminal/recordings.js';

export interface SshServerOptions {
  config: Config;
  directory: BerthDirectory;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  audit?: AuditRecorder;
  /** The runtime's reader of keys berths hold themselves (Runtime.authorizedKeys), where it has one. */
  berthKeys?: BerthKeyReader | null;
  recordings?: Recordings;
}

export interface SshServer {
  address(): HostPort;
  /** "SHA256:… (ED25519)", one per host key, as `ssh-keygen -l` names them. */
  fingerprints(): string[];
  /** Stops listening and ends every connection, telling open sessions why. */
  close(): Promise<void>;
}

/** As sshd's MaxAuthTries. */
const MAX_AUTH_ATTEMPTS = 6;
/** Failed attempts one address may make per window before it is refused outright. */
const ADDRESS_FAILURES = 30;
const ADDRESS_WINDOW_MS = 60_000;
/** How long close() waits for clients to hang up. */
const CLOSE_WAIT_MS = 5000;
/** Keepalives a client may leave unanswered before it is taken for gone. */
const KEEPALIVE_COUNT_MAX = 3;
/** ssh2 cannot turn keepalives off; this interval (the most setInterval takes, ~24 days) does in effect. */
const NEVER_MS = 2 ** 31 - 1;

/**
 * The SSH front: host keys, modern algorithms, authentication from
 * authorized_keys files, stored keys and the webhook, and for each
 * connection its sessions and forwards into the user's berth (./connection.ts).
 */
export async function startSshServer(options: SshServerOptions): Promise<SshServer> {
  const { config, directory, store, logger: rootLogger, metrics, audit = NO_AUDIT } = options;
  const logger = rootLogger.child({ component: 'ssh' });
  const listen = config.listen.ssh === null ? null : parseHostPort(config.listen.ssh);
  if (listen === null) {
    throw new BerthError({ code: 'config_invalid', userMessage: 'SSH is disabled (listen.ssh is null); set listen.ssh to serve it.' });
  }
  const hostKeys = await gatewayHostKeys(config, store);
  const sessions = new SessionRegistry(config.ssh.maxSessionsPerUser);
  const auth = authPolicy(config, store, logger, options.berthKeys ?? null);
  const ends = new Set<(notice: string) => void>();
  const algorithms = offeredAlgorithms(config.ssh.algorithms);

  const server = newServer(
    {
      hostKeys: hostKeys.map((k) => k.privateKey),
      algorithms,
      ident: 'Berth',
      ...bannerOption(config),
      keepaliveInterval: config.ssh.keepaliveSeconds > 0 ? config.ssh.keepaliveSeconds * 1000 : NEVER_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    },
    (client, info) => {
      admitted.attach(client, info);
      const end = handleConnection(client, info, { config, directory, logger, metrics, auth, sessions, algorithms, audit, recordings: options.recordings });
      ends.add(end);
      client.once('close', () => ends.delete(end));
    },
  );
  const admitted = admission(server, {
    loginGraceSeconds: config.ssh.loginGraceSeconds,
    // Validated by the config schema.
    maxStartups: parseMaxStartups(config.ssh.maxStartups)!,
    perSourceMaxStartups: config.ssh.perSourceMaxStartups,
    logger,
    metrics,
  });
  const { listener } = admitted;
  const unsubscribe = directory.onStopped((user, why) => sessions.berthStopped(user, why));
  listener.listen(listen.port, listen.host);
  // once() rejects with the 'error' event, e.g. EADDRINUSE.
  await once(listener, 'listening').catch((err: unknown) => Promise.reject(listenError(config.listen.ssh, err)));
  listener.on('error', (err: Error) => logger.error({ err }, 'ssh listener error'));
  const bound = listener.address() as AddressInfo;
  const fingerprints = hostKeyFingerprints(hostKeys);
  logger.info({ address: `${bound.address}:${bound.port}`, fingerprints }, 'ssh gateway listening');

  return {
    address: () => ({ host: bound.address, port: bound.port }),
    fingerprints: () => [...fingerprints],
    close: async () => {
      unsubscribe();
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      admitted.close();
      for (const end of ends) end('the gateway is shutting down.');
      // A client that never answers the disconnect must not hold the shutdown.
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn('ssh connections still open at shutdown; not waiting for them');
          resolve();
        }, CLOSE_WAIT_MS);
      });
      await Promise.race([closed, gaveUp]);
      clearTimeout(timer);
    },
  };
}

/** ssh2 checks the algorithm names as it is made; one it does not know is a mistake in ssh.algorithms. */
function newServer(options: Omit<ssh2.ServerConfig, 'algorithms'> & { algorithms: OfferedAlgorithms }, onClient: ssh2.ServerConnectionListener): ssh2.Server {
  try {
    return new ssh2.Server(options as ssh2.ServerConfig, onClient);
  } catch (err) {
    const unknown = /^Unsupported algorithm: (.*)$/.exec((err as Error).message);
    if (unknown === null) throw err;
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `ssh.algorithms: "${unknown[1]}" is not an algorithm the SSH gateway knows; remove it, or leave the list unset for the modern defaults.`,
      cause: err,
    });
  }
}

function authPolicy(config: Config, store: Store, logger: Logger, berthKeys: BerthKeyReader | null): AuthPolicy {
  const { authorizedKeysDir, webhook } = config.ssh;
  const hook = webhook.url === null ? null : new WebhookAuthority(webhook.url, webhook.timeoutSeconds, logger);
  // Attached berths may hold keys of their own; attach.keySources orders them among the registered ones.
  const sources = config.runtime.kind === 'attach' ? config.attach.keySources : (['registered'] as const);
  const keys: KeyAuthority[] = [
    ...(authorizedKeysDir === null ? [] : [new AuthorizedKeysDir(authorizedKeysDir, logger)]),
    ...sources.flatMap((source): KeyAuthority[] => {
      if (source === 'registered') return [new StoredKeys(store)];
      return berthKeys === null ? [] : [new BerthKeys(source, berthKeys, logger)];
    }),
    ...(hook === null ? [] : [hook]),
  ];
  return { keys, password: hook, limiter: new FailureLimiter(ADDRESS_FAILURES, ADDRESS_WINDOW_MS), maxAttempts: MAX_AUTH_ATTEMPTS };
}

function listenError(address: string | null, err: unknown): BerthError {
  return new BerthError({
    code: 'config_invalid',
    userMessage: `Cannot listen for SSH on ${address}: ${(err as Error).message}. Choose another listen.ssh, or set it to null to turn SSH off.`,
    cause: err,
  });
}

/** ssh.banner, and the notice that pty sessions are recorded when they are, shown before signing in. */
function bannerOption(config: Config): { banner?: string } {
  const lines = [config.ssh.banner, config.recording.enabled ? `${RECORDING_BANNER}\n` : null].filter((l): l is string => l !== null);
  return lines.length === 0 ? {} : { banner: lines.join('') };
}
