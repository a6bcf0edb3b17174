import { EventEmitter } from 'node:events';
import type { HostPort } from '../core/net.js';
import type { BerthState } from '../core/berth.js';

/** A berth changed state: whose, the new state, since when, and why it failed. */
export interface BerthEvent {
  user: string;
  state: BerthState;
  /** When this state began (ms since the epoch). */
  since: number;
  /** Present in state failed: the reason a person can act on. */
  failure?: { reason: string; exitCode: number | null };
}

/** Where a started gateway listens. */
export interface Addresses {
  http: HostPort;
  /** null when listen.ssh is null. */
  ssh: HostPort | null;
}

/** A gateway as the composition root starts it (src/cli/serve.ts startGateway). */
export interface StartedGateway {
  httpAddress: HostPort;
  sshAddress: HostPort | null;
  shutdown(graceSeconds?: number): Promise<void>;
  reopenLogs(): void;
  onBerth(listener: (event: BerthEvent) => void): () => void;
}

export interface BerthEvents {
  starting: [];
  running: [Addresses];
  stopping: [];
  stopped: [];
  failed: [Error];
  berth: [BerthEvent];
}

type Phase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * One Berth gateway in a host program (and in `berth serve`): start() once,
 * stop() once, and the lifecycle in between as events, in this order:
 * starting, running (with the addresses), stopping, stopped; failed instead
 * of running when the start fails (everything it had opened is closed again),
 * or instead of stopped when the shutdown does. 'berth' carries every berth's
 * state changes while running. No signal handlers are installed: the host
 * program decides when to stop and when to reopenLogs().
 */
export class BerthHandle extends EventEmitter<BerthEvents> {
  private phase: Phase = 'new';
  private gateway: StartedGateway | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly startGateway: () => Promise<StartedGateway>) {
    super();
  }

  /** Starts listening; resolves with the addresses once serving. Rejects (after 'failed') when it cannot start. */
  async start(): Promise<Addresses> {
    if (this.phase !== 'new') throw new Error(`start() was already called (the gateway is ${this.phase}); make a new one with createBerth()`);
    this.phase = 'starting';
    this.emit('starting');
    try {
      this.gateway = await this.startGateway();
    } catch (err) {
      this.fail(err);
      throw err;
    }
    this.gateway.onBerth((event) => this.emit('berth', event));
    this.phase = 'running';
    const addresses = { http: this.gateway.httpAddress, ssh: this.gateway.sshAddress };
    this.emit('running', addresses);
    return addresses;
  }

  /**
   * Stops accepting, lets requests and sessions in flight finish for up to
   * `graceSeconds` (default http.shutdownGraceSeconds) after any
   * http.drainSeconds, cuts what is left, stops local berths and closes the
   * store and log files. Calling it again returns the same promise.
   */
  stop(options: { graceSeconds?: number } = {}): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    const gateway = this.gateway;
    if (gateway === null || this.phase !== 'running') return Promise.reject(new Error(`stop() needs a running gateway (it is ${this.phase}); await start() first`));
    this.phase = 'stopping';
    this.emit('stopping');
    this.stopping = gateway.shutdown(options.graceSeconds).then(
      () => {
        this.phase = 'stopped';
        this.emit('stopped');
      },
      (err: unknown) => {
        this.fail(err);
        throw err;
      },
    );
    return this.stopping;
  }

  /** Opens log.file, log.accessFile and audit.file again under their names (after logrotate renamed them). */
  reopenLogs(): void {
    this.gateway?.reopenLogs();
  }

  private fail(err: unknown): void {
    this.phase = 'failed';
    // 'failed' without a listener must not throw as an unhandled 'error' would: the caller has the rejection.
    this.emit('failed', err instanceof Error ? err : new Error(String(err)));
  }
}
