import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BerthPort } from '../../runtime/types.js';
import { createUpstreamAgent, type ConnectBerth, type PoolOptions } from './agent.js';
import type { ForwardOptions, UpgradeOptions } from './options.js';
import { forwardUpgrade } from './upgrade.js';
import { UpgradeAgent } from './upgradeAgent.js';
import { forwardWeb } from './web.js';

export { stripRules, type StripRules } from './headers.js';
export type { BerthCookieRules } from './cookies.js';
export type { ForwardOptions, UpgradeOptions } from './options.js';
export type { ConnectBerth, PoolOptions } from './agent.js';

/** The gateway's streaming reverse proxy: one per gateway, sharing one upstream pool. */
export interface Proxy {
  /** Forwards a request (from the server's 'request' event) to the berth at `target`. */
  web(req: IncomingMessage, res: ServerResponse, target: BerthPort, opts: ForwardOptions): void;
  /** Forwards an Upgrade request (from the server's 'upgrade' event), then joins the two connections. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: BerthPort, opts: UpgradeOptions): void;
  /** Upgraded connections open now. */
  readonly openTunnels: number;
  /** Closes pooled and upgraded connections; requests in flight fail. Call after the listener stopped accepting. */
  close(): void;
}

const DEFAULT_POOL: PoolOptions = {
  // A browser opens at most 6 connections per host; this leaves room for
  // scripts and shared links while keeping one berth from taking every socket.
  maxSocketsPerBerth: 256,
  idleSocketMs: 4_000,
};

/** `connect` opens every upstream connection (BerthDirectory.connect): the proxy never dials an address itself. */
export function createProxy(connect: ConnectBerth, options: Partial<PoolOptions> = {}): Proxy {
  const pool = { ...DEFAULT_POOL, ...options };
  const agent = createUpstreamAgent(pool, connect);
  const upgrades = new UpgradeAgent(pool.maxSocketsPerBerth, connect);
  const tunnels = new Set<Duplex>();
  return {
    web: (req, res, target, opts) => forwardWeb(agent, req, res, target, opts),
    upgrade: (req, socket, head, target, opts) => forwardUpgrade(upgrades, tunnels, req, socket, head, target, opts),
    get openTunnels() {
      return tunnels.size;
    },
    close() {
      for (const socket of tunnels) socket.destroy();
      // Never rejects: undici settles a destroy with its callback's (null) error.
      void agent.destroy();
      upgrades.destroy();
    },
  };
}
