import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BerthPort } from '../runtime/types.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { Proxy, StripRules } from './proxy/index.js';

export interface ForwarderDeps {
  directory: BerthDirectory;
  proxy: Proxy;
  metrics: Metrics;
  logger: Logger;
  scheme: 'http' | 'https';
  strip: StripRules;
}

/**
 * Hands an authorised request to the proxy with what every route into a
 * berth shares: activity for the idle culler, the metrics, the strip rules
 * and the log line on failure. `user` is the berth's owner.
 */
export class Forwarder {
  constructor(private readonly deps: ForwarderDeps) {}

  web(req: IncomingMessage, res: ServerResponse, user: string, target: BerthPort, addHeaders?: Record<string, string>): void {
    const { directory, proxy, metrics, logger } = this.deps;
    directory.touch(user);
    proxy.web(req, res, target, {
      scheme: this.deps.scheme,
      strip: this.deps.strip,
      ...(addHeaders === undefined ? {} : { addHeaders }),
      onStatus: (status) => metrics.countProxied(status),
      onError: (error) => logger.warn({ user, code: error.code, detail: error.logMessage }, 'proxy error'),
    });
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, user: string, target: BerthPort, addHeaders?: Record<string, string>): void {
    const { directory, proxy, metrics, logger } = this.deps;
    directory.touch(user);
    let counted = false;
    proxy.upgrade(req, socket, head, target, {
      scheme: this.deps.scheme,
      strip: this.deps.strip,
      ...(addHeaders === undefined ? {} : { addHeaders }),
      onStatus: (status) => {
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
      onError: (error) => logger.warn({ user, code: error.code, detail: error.logMessage }, 'proxy error on upgrade'),
    });
  }
}
