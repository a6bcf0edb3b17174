import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppHosts } from '../apps/appHosts.js';
import type { Tunnels } from '../apps/tunnel.js';
import { NO_AUDIT, type AuditRecorder } from '../audit/kinds.js';
import type { Auth } from '../auth/registry.js';
import { checkBerthRequestOrigin, checkUpgradeOrigin, isOriginRefusal } from '../auth/csrf/origin.js';
import { ownersOrigins } from '../apps/hostLabel.js';
import { safeName } from '../core/safeName.js';
import { checkRequestCsrf } from '../auth/csrf/request.js';
import { bearerToken, headerToken, TOKEN_QUERY, type Tokens } from '../auth/token/tokens.js';
import { hasQueryParameter, withoutQueryParameter } from '../core/query.js';
import type { TokenScope } from '../store/store.js';
import { loginLocation } from '../auth/next.js';
import type { Authenticated, AuthResult } from '../auth/types.js';
import type { Config } from '../config/schema.js';
import { BerthError, asBerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { throttledLog, type ThrottledLog, type ThrottledLevel } from '../log/throttled.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BerthDirectory } from '../spawner/types.js';
import { cidrMatcher } from '../core/net.js';
import { AccessLog, noteUser, type AccessRoute } from './accessLog.js';
import { Forwarder } from './forwarder.js';
import { TERMINAL_SOCKET_PATH, type TerminalSockets } from './terminal/socket.js';
import { loadingPage } from './pages/loading.js';
import type { BerthCookieRules, Proxy, StripRules } from './proxy/index.js';
import { writeRawJson } from './rawResponse.js';
import { redirect, redirectDroppingSecret, sendError, sendHtml, sendJson, wantsHtml } from './respond.js';
import { RouteTable, type Route } from './routes.js';
import { requestKind } from './startPolicy.js';
import { servesHttps } from '../config/publicUrl.js';
import { joinHostPort } from '../core/net.js';
import type { User } from '../core/user.js';
import type { LaunchRequest } from '../spawner/plan.js';
import type { FirstStartChoice } from './firstStartChoice.js';
import { GATEWAY_PREFIX, isGatewayPath, pathOf } from './gatewayPath.js';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  directory: BerthDirectory;
  auth: Auth;
  proxy: Proxy;
  metrics: Metrics;
  routes: Route[];
  strip: StripRules;
  cookies: BerthCookieRules;
  tokens: Tokens;
  /** Per-port web addresses, when apps.domain is set. */
  apps?: (forwarder: Forwarder) => AppHosts;
  tunnels?: Tunnels;
  /** Where refusals by the Origin rule and the CSRF check are recorded. */
  audit?: AuditRecorder;
  /** Asked on a navigation to a stopped berth: profiles to offer instead of starting (./firstStartChoice.ts). */
  firstStartChoice?: FirstStartChoice;
  terminals?: TerminalSockets;
  /** Where a line per request goes (log.access); absent or null: none, at no cost per request. */
  access?: Logger | null;
}

const API_PREFIX = '/_berth/api/';
const RETRY_AFTER_SECONDS = '5';

/**
 * The request path, as steps: the gateway's own namespace first (its pages
 * and API), then for everything else: who is it, is their berth ready, and
 * either proxy, hold, show the loading page, or refuse.
 */
export class Gateway {
  private readonly routes: RouteTable;
  private readonly forwarder: Forwarder;
  private readonly apps: AppHosts | undefined;
  /** The gateway's own origin, which every cookie-authenticated upgrade on its main route must come from. */
  private readonly origin: string;
  /** Whether a page of an origin is one of a user's own, which alone may send their berth a cookie-signed POST. */
  private readonly ownersOrigin: (safeName: string, origin: string) => boolean;
  private readonly refusals: ThrottledLog;
  private readonly audit: AuditRecorder;

  constructor(private readonly deps: GatewayDeps) {
    this.origin = new URL(deps.config.publicUrl).origin;
    this.ownersOrigin = ownersOrigins(deps.config.publicUrl, deps.config.apps.domain ?? null);
    this.routes = new RouteTable(deps.routes);
    this.refusals = throttledLog(deps.logger);
    this.audit = deps.audit ?? NO_AUDIT;
    const scheme = servesHttps(deps.config) ? 'https' : 'http';
    this.forwarder = new Forwarder({ ...deps, scheme });
    this.apps = deps.apps?.(this.forwarder);
    if (deps.access) this.logAccess(new AccessLog(deps.access, cidrMatcher(deps.config.auth.header.trustedProxies), (req) => this.routeOf(req)));
  }

  /** Puts the access log in front of both entry points, once: with it off, they are left as they are. */
  private logAccess(log: AccessLog): void {
    const { handleRequest, handleUpgrade } = this;
    this.handleRequest = (req, res) => {
      log.request(req, res);
      handleRequest(req, res);
    };
    this.handleUpgrade = (req, socket, head) => {
      log.upgrade(req, socket);
      handleUpgrade(req, socket, head);
    };
  }

  /** The same choice handleRequest makes, for the access log. */
  private routeOf(req: IncomingMessage): AccessRoute {
    if (this.apps?.claims(req)) return 'app';
    const path = pathOf(req.url);
    return isGatewayPath(path) ? 'gateway' : 'berth';
  }

  handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url);
    const work = this.apps?.claims(req)
      ? this.apps.handleRequest(req, res)
      : hasQueryParameter(req.url, TOKEN_QUERY)
        ? this.dropTokenFromUrl(req, res)
        : isGatewayPath(path)
          ? this.serveGateway(req, res, path)
          : this.serveBerth(req, res);
    work.catch((err) => this.refuse(req, res, asBerthError(err)));
  };

  /**
   * ?berth_token= signs a browser in on an app host only; anywhere else the
   * token leaves the URL before anything reads it (the berth, a login `next`,
   * a Referer), and signs nothing in.
   */
  private async dropTokenFromUrl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new BerthError({
        code: 'bad_request',
        userMessage: `A Berth token does not belong in the URL here: send it in the X-Berth-Token header (or Authorization: Bearer for the API) and leave ${TOKEN_QUERY} out.`,
        logMessage: `${TOKEN_QUERY} in the query of a ${req.method} refused`,
      });
    }
    redirectDroppingSecret(res, withoutQueryParameter(req.url ?? '/', TOKEN_QUERY));
  }

  handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    // A token in a handshake's URL signs nothing in; cut here, it reaches neither a berth nor a log.
    if (hasQueryParameter(req.url, TOKEN_QUERY)) req.url = withoutQueryParameter(req.url as string, TOKEN_QUERY);
    const tunnelPort = this.deps.tunnels?.portOf(pathOf(req.url)) ?? null;
    const work = this.apps?.claims(req)
      ? this.apps.handleUpgrade(req, socket, head)
      : tunnelPort !== null && this.deps.tunnels
        ? this.deps.tunnels.handle(req, socket, head, tunnelPort)
        : this.deps.terminals && pathOf(req.url) === TERMINAL_SOCKET_PATH
          ? this.deps.terminals.handle(req, socket, head)
          : this.upgradeBerth(req, socket, head);
    work.catch((err) => {
      const error = asBerthError(err);
      this.logRefusal(req, error);
      writeRawJson(socket, error.status, { error: { code: error.code, message: error.userMessage } });
    });
  };

  private async serveGateway(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const authRoute = this.deps.auth.authenticator.routes.get(path);
    if (authRoute) return authRoute(req, res);
    const match = this.routes.find(req.method ?? 'GET', path === '/_berth' ? GATEWAY_PREFIX : path);
    if (match === null) throw new BerthError({ code: 'not_found', userMessage: `Nothing at ${path}; see /_berth/api/openapi.json for the API.` });
    if (match === 'method') throw new BerthError({ code: 'bad_request', status: 405, userMessage: `${req.method} is not allowed on ${path}.` });
    const { route, params } = match;
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (route.access === 'public') return route.handler({ req, res, url, user: ANONYMOUS, params });
    // The API also takes Berth tokens (scope api), as a Bearer or in X-Berth-Token; a token is
    // no cookie, so no other site can make a browser send it, and no CSRF check is needed.
    const token = path.startsWith(API_PREFIX) ? (bearerToken(req) ?? headerToken(req)) : null;
    const signIn = token !== null ? await this.tokenSignIn(req, token, ['api']) : await this.identify(req, res);
    if (!signIn) return;
    const { user } = signIn;
    noteUser(res, user.name);
    if (route.access === 'admin' && !user.admin) {
      throw new BerthError({ code: 'forbidden', userMessage: 'Only administrators may do this; ask one to add you to auth.admins.' });
    }
    const { csrf } = this.deps.auth;
    const refusal = token === null ? checkRequestCsrf(req, csrf, signIn, this.deps.config.publicUrl) : null;
    if (refusal) throw refusal;
    return route.handler({ req, res, url, user, params, csrfToken: csrf.csrfToken(signIn), via: token !== null ? 'token' : this.deps.auth.authenticator.mode, sessionId: signIn.sessionId });
  }

  private async serveBerth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const signIn = await this.identify(req, res);
    if (!signIn) return;
    const { user } = signIn;
    noteUser(res, user.name);
    const forged = checkBerthRequestOrigin(req, (origin) => this.ownersOrigin(safeName(user.name), origin));
    if (forged) throw forged;
    const { directory, config } = this.deps;
    const ready = directory.readyTarget(user.name);
    if (ready) return this.forwarder.web(req, res, user.name, ready);

    const kind = requestKind(req);
    const status = directory.status(user.name);
    // A paused berth thaws in milliseconds: its navigation is held for it (below), not shown the loading page.
    if (kind === 'navigation' && status.state !== 'paused') {
      const choices = (await this.deps.firstStartChoice?.(user, status)) ?? null;
      if (choices === null) directory.start(user.name, 'http', launchOf(req, user));
      sendHtml(res, 200, loadingPage(directory.status(user.name), this.deps.auth.csrf.csrfToken(signIn), choices));
      return;
    }
    if (kind === 'background' && status.state !== 'starting') {
      sendJson(res, 503, { state: status.state, message: notRunningMessage(status.state) }, { 'retry-after': RETRY_AFTER_SECONDS });
      return;
    }
    try {
      const endpoint = await directory.ready(user.name, 'http', config.spawn.holdSeconds * 1000, launchOf(req, user));
      if (res.destroyed) return;
      this.forwarder.web(req, res, user.name, endpoint);
    } catch (err) {
      const error = asBerthError(err);
      const state = directory.status(user.name).state;
      sendJson(res, 503, { state, message: error.userMessage }, { 'retry-after': RETRY_AFTER_SECONDS });
    }
  }

  private async upgradeBerth(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { directory, config } = this.deps;
    if (pathOf(req.url).startsWith(GATEWAY_PREFIX)) {
      throw new BerthError({ code: 'not_found', userMessage: `The gateway accepts no upgrades on its own paths but its tunnels (/_berth/api/me/tunnel/<port>) and the terminal (${TERMINAL_SOCKET_PATH}).` });
    }
    // Checked first, so a page on another origin neither learns who is signed in nor starts the berth.
    if (headerToken(req) === null) {
      const crossOrigin = checkUpgradeOrigin(req, this.origin);
      if (crossOrigin) throw crossOrigin;
    }
    const result = await this.authenticate(req);
    if ('refused' in result) throw result.refused;
    if ('challenge' in result) throw result.challenge.error;
    const user = result.user.name;
    noteUser(socket, user);
    let target = directory.readyTarget(user);
    if (!target) {
      const state = directory.status(user).state;
      if (requestKind(req) === 'background' && state !== 'starting') {
        writeRawJson(socket, 503, { state, message: notRunningMessage(state) }, { 'retry-after': RETRY_AFTER_SECONDS });
        return;
      }
      target = await directory.ready(user, 'http', config.spawn.holdSeconds * 1000, launchOf(req, result.user));
    }
    this.forwarder.upgrade(req, socket, head, user, target);
  }

  /** The sign-in, or null after answering with a login redirect, 401 or 403. */
  private async identify(req: IncomingMessage, res: ServerResponse): Promise<Authenticated | null> {
    const result = await this.authenticate(req);
    if ('user' in result) return result;
    if ('refused' in result) throw result.refused;
    const { loginPath, error, clearStale } = result.challenge;
    clearStale?.(res);
    if (loginPath !== null && wantsHtml(req) && req.method === 'GET') {
      redirect(res, loginLocation(loginPath, req.url), 303);
      return null;
    }
    throw error;
  }

  /** The sender of berth traffic: an X-Berth-Token (scope apps) when one is sent, else the auth mode's own credentials. */
  private async authenticate(req: IncomingMessage): Promise<AuthResult> {
    const token = headerToken(req);
    return token === null ? this.deps.auth.authenticator.authenticate(req) : this.tokenSignIn(req, token, ['apps']);
  }

  /** A sign-in by a Berth token: never a browser's ambient credential. */
  private async tokenSignIn(req: IncomingMessage, token: string, scopes: readonly TokenScope[]): Promise<Authenticated> {
    const { user, token: stored } = await this.deps.tokens.check(token, scopes, req.socket.remoteAddress ?? null);
    return { user, sessionId: `token:${stored.id}`, browser: false };
  }

  private refuse(req: IncomingMessage, res: ServerResponse, error: BerthError): void {
    this.logRefusal(req, error);
    sendError(req, res, error, error.status === 503 ? { 'retry-after': RETRY_AFTER_SECONDS } : {});
  }

  private logRefusal(req: IncomingMessage, error: BerthError): void {
    this.deps.metrics.refusedRequests.inc({ code: error.code });
    if (error.code === 'csrf') this.auditRefusal(req, error);
    this.refusals.write(
      refusalLevel(error),
      error.code,
      { code: error.code, status: error.status, method: req.method, path: pathOf(req.url), peer: req.socket.remoteAddress, detail: error.logMessage },
      'request refused',
    );
  }

  /**
   * Every refusal by the one Origin rule or the CSRF check passes here, from
   * the gateway's routes, app hosts and tunnels alike: the host and path are
   * named, never the query, the cookies or the token.
   */
  private auditRefusal(req: IncomingMessage, error: BerthError): void {
    this.audit.record({
      kind: isOriginRefusal(error) ? 'origin.refused' : 'csrf.refused',
      actor: null,
      via: null,
      source: req.socket.remoteAddress ?? null,
      target: null,
      outcome: 'refused',
      detail: { method: req.method ?? null, host: req.headers.host ?? null, path: pathOf(req.url), evidence: error.logMessage },
    });
  }
}

const ANONYMOUS = { name: '', groups: [], admin: false };

/**
 * Only the gateway's own failures are errors. Anything a client can cause at
 * will (a port nobody listens on, a berth that is stopped, a refused upgrade,
 * a bad header) is a warning, rate-limited like every refusal, so it can never
 * page an operator or drown a real error.
 */
function refusalLevel(error: BerthError): ThrottledLevel {
  switch (error.code) {
    case 'internal':
    case 'config_invalid':
    case 'runtime_unavailable':
    case 'spawn_failed':
    case 'spawn_timeout':
    case 'storage_full':
    case 'storage_unavailable':
      return 'error';
    default:
      return 'warn';
  }
}

function notRunningMessage(state: string): string {
  return state === 'failed'
    ? 'Your environment has failed; open it in a browser tab (or call POST /_berth/api/me/start) to start it again.'
    : `Your environment is ${state}; open it in a browser tab (or call POST /_berth/api/me/start) to start it.`;
}

/** What a request tells a spawn (off the proxy's hot path: only when the berth is not ready). */
function launchOf(req: IncomingMessage, user: User): LaunchRequest {
  const { remoteAddress, remotePort } = req.socket;
  return { groups: user.groups, ...(remoteAddress && remotePort ? { remoteAddress: joinHostPort(remoteAddress, remotePort) } : {}) };
}
