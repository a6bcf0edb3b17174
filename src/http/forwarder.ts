import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.js';
import { throttledLog, type ThrottledLog } from '../log/throttled.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BerthPort } from '../runtime/types.js';
import type { BerthDirectory } from '../spawner/types.js';
import { noteBerth, noteStatus, noteUpstreamAnswer } from './accessLog.js';
import type { BerthCookieRules, Proxy, StripRules } from './proxy/index.js';

export interface ForwarderDeps {
  directory: BerthDirectory;
  proxy: Proxy;
  metrics: Metrics;
  logger: Logger;
  scheme: 'http' | 'https';
  strip: StripRules;
  cookies: BerthCookieRules;
}

/**
 * Hands an authorised request to the proxy with what every route into a
 * berth shares: activity for the idle culler, the metrics, the strip rules
 * and the log line on failure. `user` is the berth's owner.
 */
export class Forwarder {
  /** Berths already logged for setting a gateway cookie: once each is enough to tell the operator, and a berth cannot flood the log. */
  private readonly cookieWarned = new Set<string>();
  /** A berth that refuses or drops connections is something any visitor can repeat at will. */
  private readonly failures: ThrottledLog;

  constructor(private readonly deps: ForwarderDeps) {
    this.failures = throttledLog(deps.logger);
  }

  web(req: IncomingMessage, res: ServerResponse, user: string, target: BerthPort, addHeaders?: Record<string, string>): void {
    const { directory, proxy, metrics } = this.deps;
    directory.touch(user);
    noteBerth(res, user, target.port);
    proxy.web(req, res, target, {
      scheme: this.deps.scheme,
      strip: this.deps.strip,
      cookies: this.deps.cookies,
      ...(addHeaders === undefined ? {} : { addHeaders }),
      onDroppedCookie: (name) => this.droppedCookie(user, name),
      onStatus: (status) => {
        noteUpstreamAnswer(res);
        metrics.countProxied(status);
      },
      onError: (error) => this.failures.write('warn', `${error.code}:${user}`, { user, code: error.code, detail: error.logMessage }, 'proxy error'),
    });
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, user: string, target: BerthPort, addHeaders?: Record<string, string>): void {
    const { directory, proxy, metrics } = this.deps;
    directory.touch(user);
    noteBerth(socket, user, target.port);
    let counted = false;
    proxy.upgrade(req, socket, head, target, {
      scheme: this.deps.scheme,
      strip: this.deps.strip,
      cookies: this.deps.cookies,
      ...(addHeaders === undefined ? {} : { addHeaders }),
      onDroppedCookie: (name) => this.droppedCookie(user, name),
      onStatus: (status) => {
        noteUpstreamAnswer(socket);
        noteStatus(socket, status);
        metrics.countProxied(status);
        if (status === 101) {
          counted = true;
          metrics.openWebSockets.inc();
        }
      },
      onClientData: () => directory.touch(user),
      onClose: () => {
        if (counted) metrics.openWebSockets.dec();
      },
      onError: (error) => this.failures.write('warn', `${error.code}:${user}`, { user, code: error.code, detail: error.logMessage }, 'proxy error on upgrade'),
    });
  }

  private droppedCookie(user: string, name: string): void {
    if (this.cookieWarned.has(user)) return;
    this.cookieWarned.add(user);
    this.deps.logger.warn(
      { user, cookie: name },
      "a berth's response tried to set one of the gateway's cookies, or clear them all (Clear-Site-Data \"cookies\"); dropped, the app must use cookie names of its own and clear only those (logged once per berth until the gateway restarts)",
    );
  }
}
