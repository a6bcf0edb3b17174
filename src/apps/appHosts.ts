import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DailyOnce } from '../audit/dailyOnce.js';
import type { AuditRecorder } from '../audit/kinds.js';
import { checkBerthRequestOrigin, checkUpgradeOrigin } from '../auth/csrf/origin.js';
import { safeNext } from '../auth/next.js';
import { headerToken, TOKEN_QUERY, type Tokens } from '../auth/token/tokens.js';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { noteUser } from '../http/accessLog.js';
import type { Forwarder } from '../http/forwarder.js';
import { headerValues } from '../http/headerValues.js';
import type { Logger } from '../log/logger.js';
import { redirect, redirectDroppingSecret, wantsHtml } from '../http/respond.js';
import { requestKind } from '../http/startPolicy.js';
import { withoutQueryParameter } from '../core/query.js';
import type { BerthPort } from '../runtime/types.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { Store } from '../store/store.js';
import { ownerOf, verdict } from './access.js';
import type { AppCookies } from './appCookie.js';
import type { HandOffCodes } from './codes.js';
import { appOrigin, hostNameOf, isUnderDomain, ownersOrigins, parseAppHost, type AppHost } from './hostLabel.js';

/** Where an app host takes the one-time code of the sign-in hand-off. Reserved on every app host. */
export const CALLBACK_PATH = '/_berth/apps/callback';
/** Where the gateway hands a signed-in browser on to an app host. */
export const AUTHORIZE_PATH = '/_berth/apps/authorize';
/** The header naming the visitor to the app; set only by the gateway. */
export const VISITOR_HEADER = 'X-Berth-Visitor';

export interface AppHostsDeps {
  config: Config;
  directory: BerthDirectory;
  store: Store;
  tokens: Tokens;
  cookies: AppCookies;
  codes: HandOffCodes;
  forwarder: Forwarder;
  logger: Logger;
  /** Where visits by someone other than the owner are recorded (port.visited), once per visitor, port and day. */
  audit?: AuditRecorder;
}

interface Admitted {
  owner: string;
  visitor: string | null;
  app: AppHost;
}

/**
 * Requests to `<safe name>-<port>.<apps.domain>`: parse the host strictly,
 * find its owner among known users, establish the visitor (app cookie or
 * X-Berth-Token, never Authorization), decide by the port's share level, and
 * only then touch the berth. Every refusal is a BerthError the gateway answers.
 */
export class AppHosts {
  private readonly domain: string;
  private readonly gatewayHost: string;
  private readonly visitedToday = new DailyOnce();
  private readonly ownersOrigin: (safeName: string, origin: string) => boolean;

  constructor(private readonly deps: AppHostsDeps) {
    this.domain = (deps.config.apps.domain as string).toLowerCase();
    this.gatewayHost = new URL(deps.config.publicUrl).hostname;
    this.ownersOrigin = ownersOrigins(deps.config.publicUrl, this.domain);
  }

  /** Whether this request's Host is under the apps domain and not the gateway's own (then this class answers it, whatever its shape). */
  claims(req: IncomingMessage): boolean {
    const host = requestHost(req);
    return host !== null && host !== this.gatewayHost && isUnderDomain(host, this.domain);
  }

  async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const app = this.parse(req);
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    if (url.pathname === CALLBACK_PATH) return this.callback(res, app, url);
    // Before anything else is looked up, as for upgrades: another user's page gets nothing from this berth.
    const forged = checkBerthRequestOrigin(req, (origin) => this.ownersOrigin(app.safeName, origin));
    if (forged) throw forged;
    const owner = await this.owner(app);
    if (url.searchParams.has(TOKEN_QUERY)) return this.tokenLanding(req, res, app, url);
    const admitted = await this.admit(req, app, owner);
    if (admitted === 'sign_in') {
      if (req.method === 'GET' && wantsHtml(req)) {
        const next = `${appOrigin(this.deps.config.publicUrl, app.host)}${req.url ?? '/'}`;
        redirect(res, `${new URL(this.deps.config.publicUrl).origin}${AUTHORIZE_PATH}?next=${encodeURIComponent(next)}`, 303);
        return;
      }
      throw signInError(app);
    }
    if (admitted.visitor !== null) noteUser(res, admitted.visitor);
    const target = await this.reach(req, admitted);
    if (res.destroyed) return;
    this.deps.forwarder.web(req, res, owner, target, visitorHeader(admitted.visitor));
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const app = this.parse(req);
    // Before anything else is looked up: a page on a sibling host must learn nothing, and the berth sees no connection.
    if (headerToken(req) === null) {
      const crossOrigin = checkUpgradeOrigin(req, appOrigin(this.deps.config.publicUrl, app.host));
      if (crossOrigin) throw crossOrigin;
    }
    const owner = await this.owner(app);
    const admitted = await this.admit(req, app, owner);
    if (admitted === 'sign_in') throw signInError(app);
    if (admitted.visitor !== null) noteUser(socket, admitted.visitor);
    const target = await this.reach(req, admitted);
    if (socket.destroyed) return;
    this.deps.forwarder.upgrade(req, socket, head, owner, target, visitorHeader(admitted.visitor));
  }

  private parse(req: IncomingMessage): AppHost {
    const app = parseAppHost(requestHost(req) ?? '', this.domain);
    if (app === null) throw noSuchHost();
    return app;
  }

  private async owner(app: AppHost): Promise<string> {
    const owner = await ownerOf(app.safeName, this.deps.directory, this.deps.store);
    if (owner === null) throw noSuchHost();
    return owner;
  }

  /** The visitor and the verdict; a bad X-Berth-Token is refused outright rather than ignored. */
  private async admit(req: IncomingMessage, app: AppHost, owner: string): Promise<Admitted | 'sign_in'> {
    const token = headerToken(req);
    const visitor = token !== null ? (await this.deps.tokens.check(token, ['apps'], req.socket.remoteAddress ?? null)).user.name : await this.cookieVisitor(req, app);
    const share = await this.deps.store.share(owner, app.port);
    const decision = verdict(share, owner, visitor);
    if (decision === 'sign_in') return 'sign_in';
    if (visitor !== owner) this.auditVisit(req, app, owner, visitor, share, decision === 'allowed');
    if (decision === 'forbidden') {
      throw new BerthError({
        code: 'forbidden',
        userMessage: `${app.host} is private to its owner; ask them to share port ${app.port} with signed-in users.`,
        logMessage: `${visitor} may not visit ${app.host} (share ${share})`,
      });
    }
    return { owner, visitor, app };
  }

  /** Anyone but the owner, signed in or not (then named by address), once a day per port and per outcome. */
  private auditVisit(req: IncomingMessage, app: AppHost, owner: string, visitor: string | null, share: string, allowed: boolean): void {
    const source = req.socket.remoteAddress ?? null;
    if (this.deps.audit === undefined || !this.visitedToday.first(`${visitor ?? `@${source}`}\0${app.host}\0${allowed}`)) return;
    this.deps.audit.record({
      kind: 'port.visited',
      actor: visitor,
      // Signed in on this host by an X-Berth-Token, or by the app cookie its sign-in hand-off left.
      via: visitor === null ? null : headerToken(req) !== null ? 'token' : 'app-cookie',
      source,
      target: owner,
      outcome: allowed ? 'ok' : 'refused',
      detail: { port: app.port, host: app.host, share },
    });
  }

  /** Who this host's app cookie names, while the token it was made from (if any) is still valid. */
  private async cookieVisitor(req: IncomingMessage, app: AppHost): Promise<string | null> {
    const visitor = this.deps.cookies.read(req, app.host);
    if (visitor === null) return null;
    if (visitor.tokenId === null || (await this.deps.tokens.stillGrants(visitor.tokenId, visitor.name, 'apps'))) return visitor.name;
    this.deps.logger.info({ host: app.host, user: visitor.name, tokenId: visitor.tokenId }, 'app cookie of a revoked or expired token ignored');
    return null;
  }

  /**
   * The berth's port. The owner's request may start the berth (as on the
   * gateway's main route); anyone else's only uses a running one.
   */
  private async reach(req: IncomingMessage, admitted: Admitted): Promise<BerthPort> {
    const { directory, config } = this.deps;
    const { owner, visitor, app } = admitted;
    if (directory.readyTarget(owner) === null) {
      if (visitor !== owner || requestKind(req) === 'background') {
        throw new BerthError({
          code: 'berth_stopped',
          userMessage: `The environment behind ${app.host} is not running; its owner can start it by opening it.`,
        });
      }
      await directory.ready(owner, 'http', config.spawn.holdSeconds * 1000);
    }
    return directory.target(owner, app.port);
  }

  /** `?berth_token=`: a browser signs in with a token, which leaves the URL at once (303 to it without the token). */
  private async tokenLanding(req: IncomingMessage, res: ServerResponse, app: AppHost, url: URL): Promise<void> {
    const { user, token } = await this.deps.tokens.check(url.searchParams.get(TOKEN_QUERY) ?? '', ['apps'], req.socket.remoteAddress ?? null);
    this.deps.cookies.issue(res, app.host, user.name, token);
    redirectDroppingSecret(res, withoutQueryParameter(req.url ?? '/', TOKEN_QUERY));
  }

  /** The end of the sign-in hand-off: a fresh code for this host becomes this host's cookie. */
  private async callback(res: ServerResponse, app: AppHost, url: URL): Promise<void> {
    const user = await this.deps.codes.redeem(url.searchParams.get('code') ?? '', app.host);
    if (user === null) {
      throw new BerthError({
        code: 'unauthenticated',
        userMessage: `This sign-in link has expired or was already used; open ${appOrigin(this.deps.config.publicUrl, app.host)}/ again.`,
        logMessage: `stale or foreign hand-off code on ${app.host}`,
      });
    }
    this.deps.cookies.issue(res, app.host, user);
    redirect(res, safeNext(url.searchParams.get('next')), 303);
  }
}

/** The Host header's name, read from the raw headers: claims() asks on every request the gateway serves. */
function requestHost(req: IncomingMessage): string | null {
  return hostNameOf(headerValues(req, 'host')?.[0]);
}

function noSuchHost(): BerthError {
  return new BerthError({
    code: 'not_found',
    userMessage: 'No app answers at this address: app addresses look like <name>-<port> followed by the apps domain.',
    logMessage: 'unknown or malformed app host',
  });
}

function signInError(app: AppHost): BerthError {
  return new BerthError({
    code: 'unauthenticated',
    userMessage: `Sign in to reach ${app.host}: open it in a browser, or send a Berth token with scope "apps" in the X-Berth-Token header.`,
  });
}

/**
 * The visitor's name for the app. Header values must be printable ASCII, so
 * any other name is percent-encoded (a plain name such as "alice" is unchanged).
 */
function visitorHeader(visitor: string | null): Record<string, string> | undefined {
  if (visitor === null) return undefined;
  return { [VISITOR_HEADER]: /^[\x20-\x7e]+$/.test(visitor) && !visitor.includes('%') ? visitor : encodeURIComponent(visitor) };
}
