import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BerthState, BerthStatus } from '../core/berth.js';

const STATES: BerthState[] = ['stopped', 'starting', 'ready', 'paused', 'stopping', 'failed'];

/** Every metric the gateway exports, in one registry served at /_berth/metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly spawnDuration: Histogram<'outcome'>;
  readonly proxiedRequests: Counter<'class'>;
  readonly openWebSockets: Gauge;
  readonly refusedRequests: Counter<'code'>;
  readonly sshSessions: Gauge;
  readonly sshDroppedConnections: Counter<'code'>;
  /** Pre-bound children: label look-ups per request would cost on the hot path. */
  private readonly proxiedByClass: Array<{ inc(): void }>;

  constructor(listBerths: () => BerthStatus[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'berth_' });
    new Gauge({
      name: 'berth_berths',
      help: 'Berths known to the gateway, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const counts = new Map<BerthState, number>(STATES.map((s) => [s, 0]));
        for (const berth of listBerths()) counts.set(berth.state, (counts.get(berth.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    this.spawnDuration = new Histogram({
      name: 'berth_spawn_duration_seconds',
      help: 'Time from a spawn starting to the berth answering (or failing)',
      labelNames: ['outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [this.registry],
    });
    this.proxiedRequests = new Counter({
      name: 'berth_proxied_requests_total',
      help: 'Requests proxied to berths, by status class (2xx, 3xx, 4xx, 5xx)',
      labelNames: ['class'],
      registers: [this.registry],
    });
    this.proxiedByClass = ['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => this.proxiedRequests.labels(c));
    this.openWebSockets = new Gauge({
      name: 'berth_websockets_open',
      help: 'Upgraded (WebSocket) connections currently proxied',
      registers: [this.registry],
    });
    this.refusedRequests = new Counter({
      name: 'berth_refused_requests_total',
      help: 'Requests the gateway refused, by error code',
      labelNames: ['code'],
      registers: [this.registry],
    });
    this.sshSessions = new Gauge({
      name: 'berth_ssh_sessions_open',
      help: 'SSH sessions currently open',
      registers: [this.registry],
    });
    this.sshDroppedConnections = new Counter({
      name: 'berth_ssh_dropped_connections_total',
      help: 'SSH connections dropped before authentication, by code (ssh.maxStartups, ssh.perSourceMaxStartups, ssh.loginGraceSeconds)',
      labelNames: ['code'],
      registers: [this.registry],
    });
  }

  countProxied(status: number): void {
    this.proxiedByClass[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]?.inc();
  }
}
