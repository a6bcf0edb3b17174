import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppCookies } from '../apps/appCookie.js';
import { AppHosts } from '../apps/appHosts.js';
import { authorizeRoute } from '../apps/authorize.js';
import { HandOffCodes } from '../apps/codes.js';
import { Tunnels } from '../apps/tunnel.js';
import { GATEWAY_COOKIE_NAMES, isGatewayCookieName } from '../auth/cookies.js';
import { createAuditLog } from '../audit/fromConfig.js';
import { believedIdentity } from '../auth/header/believed.js';
import { identityHeaderNames } from '../auth/identityHeaders.js';
import { createAuth } from '../auth/registry.js';
import { Tokens } from '../auth/token/tokens.js';
import type { LoadedConfig } from '../config/load.js';
import { adminRoutes } from '../http/api/admin.js';
import { auditRoutes } from '../http/api/audit.js';
import { eventRoutes } from '../http/api/events.js';
import { keyRoutes } from '../http/api/keys.js';
import { operationsRoutes } from '../http/api/operations.js';
import { berthRoutes } from '../http/api/me.js';
import { Readiness, readinessRoutes, storeProblem } from '../http/api/readiness.js';
import { portRoutes } from '../http/api/ports.js';
import { tokenRoutes } from '../http/api/tokens.js';
import { Gateway } from '../http/gateway.js';
import { createProxy, stripRules } from '../http/proxy/index.js';
import { pageRoutes } from '../http/pages/routes.js';
import { listenHttp } from '../http/server.js';
import { BerthHandle, type StartedGateway } from '../embed/handle.js';
import { isLogger, openGatewayLogs, type LogTarget } from '../log/gatewayLogs.js';
import { Metrics } from '../metrics/metrics.js';
import { createRuntime } from '../runtime/registry.js';
import { Culler } from '../spawner/culler.js';
import { ConfigWebhook } from '../profiles/configWebhook.js';
import { firstStartChoice } from '../http/firstStartChoice.js';
import { startOnSignIn } from '../http/startOnSignIn.js';
import { Spawner } from '../spawner/spawner.js';
import { ImagePrePuller, imagesToPrePull } from '../spawner/prePull.js';
import { imageRoutes } from '../http/api/images.js';
import { startSshServer, type SshServer } from '../ssh/server.js';
import { DataDirHealth, ensureDataDir } from '../store/dataDir.js';
import { cullerLeadership } from '../store/leader.js';
import { Store } from '../store/store.js';
import { servesHttps } from '../config/publicUrl.js';
import { raiseFileLimit } from './fileLimit.js';
import { leaveCluster, reportServing, stopRequested, superviseWorkers, supervisesWorkers } from './workers.js';
import { recordingRoutes } from '../http/api/recordings.js';
import { terminalRoutes } from '../http/terminal/routes.js';
import { TerminalSockets } from '../http/terminal/socket.js';
import { TerminalTickets } from '../http/terminal/tickets.js';
import { TerminalHub } from '../terminal/hub.js';
import { Recordings } from '../terminal/recordings.js';

/**
 * The built-in demo app, the default berth of the local runtime: compiled
 * beside this file, or its TypeScript source when running from a checkout
 * through tsx (tests).
 */
function demoCommand(): string[] {
  const compiled = fileURLToPath(new URL('../demo/app.js', import.meta.url));
  if (existsSync(compiled)) return [process.execPath, compiled];
  // Berths run in their home directory, so the loader is named by its resolved URL, not its package name.
  return [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../demo/app.ts', import.meta.url))];
}

export interface RunningGateway extends StartedGateway {
  httpAddress: { host: string; port: number };
  /** null when listen.ssh is null. */
  sshAddress: { host: string; port: number } | null;
  /** Stops accepting, finishes requests in flight (for graceSeconds, else http.shutdownGraceSeconds), stops local berths, closes the store. */
  shutdown(graceSeconds?: number): Promise<void>;
  /** Opens every log file the gateway writes (log.file, log.accessFile, audit.file) again under its name, after logrotate renamed it. */
  reopenLogs(): void;
}

/** Wires every part together; holds no logic of its own beyond start and stop order. */
export async function startGateway({ config, file }: LoadedConfig, version: string, logTo?: LogTarget): Promise<RunningGateway> {
  const logs = openGatewayLogs(config.log, logTo);
  const logSink = logTo === undefined || isLogger(logTo) ? undefined : logTo;
  const { logger } = logs;
  await raiseFileLimit(logger);
  ensureDataDir(config.dataDir);
  let spawner: Spawner | undefined;
  const metrics = new Metrics(() => spawner?.list() ?? []);
  const runtime = createRuntime(config, { dataDir: config.dataDir, logger: logger.child({ component: 'runtime' }), defaultCommand: demoCommand(), registry: metrics.registry, configFile: file });
  await runtime.prepare();
  const store = await Store.open(config.dataDir, config.store);
  const audit = createAuditLog(config, store, logger.child({ component: 'audit' }), logSink);
  audit.start();
  const auth = await createAuth(config, logger, (address) => runtime.isBerthAddress(address), store, audit);
  const webhook = ConfigWebhook.fromConfig(config, logger.child({ component: 'config-webhook' }));
  spawner = new Spawner({ config, runtime, store, logger: logger.child({ component: 'spawner' }), metrics, audit, webhook });
  await spawner.adopt().catch((err) => logger.warn({ err }, 'could not list berths to adopt; the runtime may be unavailable'));
  const prePuller = new ImagePrePuller(runtime, imagesToPrePull(config), logger.child({ component: 'images' }));
  prePuller.start();

  const directory = spawner;
  const choice = firstStartChoice(config, store);
  auth.onSignIn(startOnSignIn(config, spawner, choice, logger.child({ component: 'spawner' })));
  const proxy = createProxy((target) => directory.connect(target));
  const tokens = new Tokens(store, auth.isAdmin, audit);
  const codes = new HandOffCodes(store);
  const readiness = new Readiness();
  const recordings = new Recordings(config, logger.child({ component: 'recording' }), audit);
  const terminals = new TerminalHub(config.terminal.keepSeconds, logger.child({ component: 'terminal' }));
  const tickets = new TerminalTickets(codes);
  const appCookies = new AppCookies({ key: auth.appKey, lifetimeSeconds: config.auth.sessionSeconds, secure: servesHttps(config) });
  const gateway = new Gateway({
    config,
    logger: logger.child({ component: 'http' }),
    directory: spawner,
    auth,
    proxy,
    metrics,
    routes: [
      ...operationsRoutes(config, runtime, metrics, new DataDirHealth(config.dataDir), () => storeProblem(store, () => directory.notificationProblem())),
      ...readinessRoutes(readiness, store),
      ...berthRoutes(config, spawner),
      ...keyRoutes(store),
      ...eventRoutes(store),
      ...adminRoutes(config, spawner, audit),
      ...pageRoutes(config, store, audit),
      ...imageRoutes(() => prePuller.status()),
      ...tokenRoutes(store, tokens, audit),
      ...portRoutes(config, spawner, store, audit),
      ...auditRoutes(audit),
      ...(config.apps.domain === null ? [] : [authorizeRoute({ config, directory: spawner, store, codes })]),
      ...terminalRoutes(config, tickets),
      ...recordingRoutes(recordings),
    ],
    strip: stripRules({ headers: identityHeaderNames(config), cookies: GATEWAY_COOKIE_NAMES }),
    cookies: { reserved: isGatewayCookieName, allowDomain: config.apps.allowDomainCookies },
    tokens,
    ...(config.apps.domain === null
      ? {}
      : { apps: (forwarder) => new AppHosts({ config, directory: spawner, store, tokens, cookies: appCookies, codes, forwarder, logger: logger.child({ component: 'apps' }), audit }) }),
    audit,
    firstStartChoice: choice,
    tunnels: new Tunnels({ config, directory: spawner, store, tokens, authenticator: auth.authenticator, logger: logger.child({ component: 'tunnel' }) }),
    access: logs.access,
    terminals: new TerminalSockets({ config, audit, directory: spawner, authenticator: auth.authenticator, tickets, hub: terminals, recordings, logger: logger.child({ component: 'terminal' }) }),
  });
  const http = await listenHttp(config, gateway);
  let ssh: SshServer | null = null;
  try {
    ssh = config.listen.ssh === null ? null : await startSshServer({ config, directory: spawner, store, logger, metrics, audit, recordings, berthKeys: runtime.authorizedKeys?.bind(runtime) ?? null });
  } catch (err) {
    // A half-finished start cleans up after itself, so the caller sees only the reason.
    await http.close(0, () => proxy.close());
    prePuller.close();
    await spawner.close({ stopBerths: false });
    await runtime.close();
    await audit.close();
    await store.close();
    await logs.close();
    throw err;
  }
  const culler = new Culler(spawner, config.idle, logger.child({ component: 'culler' }), cullerLeadership(store, logger.child({ component: 'culler' })));
  culler.start();
  const address = http.address();
  logger.info(
    {
      version,
      http: `${address.host}:${address.port}`,
      ssh: ssh === null ? null : `${ssh.address().host}:${ssh.address().port}`,
      publicUrl: config.publicUrl,
      runtime: runtime.kind,
      auth: config.auth.mode,
    },
    `Berth ${version} is serving ${config.publicUrl}`,
  );
  const believed = believedIdentity(config);
  if (believed !== null) logger.info({ userHeaders: config.auth.header.userHeaders, trustedProxies: config.auth.header.trustedProxies }, believed);

  return {
    httpAddress: address,
    sshAddress: ssh?.address() ?? null,
    async shutdown(graceSeconds = config.http.shutdownGraceSeconds) {
      // Readiness fails first: a balancer probing /_berth/readyz stops sending work while this gateway still serves it.
      readiness.drain();
      if (config.http.drainSeconds > 0) {
        logger.info({ drainSeconds: config.http.drainSeconds }, 'draining: /_berth/readyz answers 503; still serving');
        await new Promise((resolve) => setTimeout(resolve, config.http.drainSeconds * 1000));
      }
      logger.info('shutting down: no new requests or connections; finishing those in flight');
      // SSH sessions are told why before the berths they run in stop.
      await Promise.all([ssh?.close(), terminals.close(), http.close(graceSeconds * 1000, () => proxy.close())]);
      recordings.close();
      await culler.close();
      prePuller.close();
      await spawner.close({ stopBerths: runtime.kind === 'local' });
      await runtime.close();
      proxy.close();
      await audit.close();
      await store.close();
      logger.info('stopped');
      await logs.close();
    },
    onBerth: (listener) => spawner.onStateChange(({ user, state, since, failure }) => listener({ user, state, since, ...(failure && state === 'failed' ? { failure: { reason: failure.reason, exitCode: failure.exitCode ?? null } } : {}) })),
    reopenLogs() {
      logs.reopen();
      audit.reopen();
      logger.info('log files reopened');
    },
  };
}

/** `berth serve`: runs until SIGTERM or SIGINT, then shuts down in order and exits 0; SIGHUP reopens the log files. With workers > 1, supervises that many of itself (./workers.ts). */
export async function serve(loaded: LoadedConfig, version: string): Promise<void> {
  if (supervisesWorkers(loaded.config)) return superviseWorkers(loaded.config);
  // Listening before starting: a signal during start-up (an init forwarding a quick `docker stop`) shuts down once started, rather than killing the process half-way.
  const stopAsked = stopRequested();
  const berth = new BerthHandle(() => startGateway(loaded, version));
  // logrotate's postrotate sends SIGHUP: the files are reopened under their names, nothing else changes (and a SIGHUP during start-up does not kill).
  const reopen = () => berth.reopenLogs();
  process.on('SIGHUP', reopen);
  try {
    await berth.start();
    reportServing();
    await stopAsked;
    await berth.stop();
  } finally {
    process.off('SIGHUP', reopen);
    leaveCluster();
  }
}
