import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.js';
import { BerthError } from '../core/errors.js';
import { openGatewayLogs, type GatewayLogs } from '../log/gatewayLogs.js';
import type { Logger } from '../log/logger.js';

/*
 * `berth serve --workers N` (config key `workers`): N gateway processes on
 * one host behind the same HTTP and SSH ports, so the proxy uses every core.
 * node:cluster shares the listening sockets (Node 20 has no SO_REUSEPORT
 * option; cluster's primary accepts and hands connections round-robin to
 * the workers). The workers are gateways on one PostgreSQL store, as N copies
 * on N hosts would be (the config schema refuses workers > 1 on SQLite and on
 * the local runtime, whose state lives in one process). The primary runs no
 * gateway: it starts the workers, starts a new one when one dies, forwards
 * SIGTERM, SIGINT and SIGHUP, and exits once every worker has.
 */

/** What a worker sends the primary once its gateway serves. */
const READY = 'berth:worker-ready';

/** Restart delays after a worker dies: doubled per death within RESTART_WINDOW_MS, capped. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 30_000;
const RESTART_WINDOW_MS = 60_000;

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Whether this process is the primary of `berth serve --workers N`, which supervises and serves nothing itself. */
export function supervisesWorkers(config: Config): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/**
 * Resolves on the first SIGTERM or SIGINT. A worker ignores repeats (a
 * terminal's Ctrl-C reaches it and the primary's forward of it both): the
 * primary decides when it is over. A lone gateway keeps the default for a
 * second signal, so an impatient operator's second Ctrl-C ends it at once.
 */
export function stopRequested(): Promise<void> {
  return new Promise<void>((resolve) => {
    const listen = cluster.isWorker ? process.on.bind(process) : process.once.bind(process);
    listen('SIGTERM', () => resolve());
    listen('SIGINT', () => resolve());
  });
}

/** Tells the primary (if any) that this worker's gateway serves: a worker that dies before this did not start. */
export function reportServing(): void {
  if (cluster.isWorker) process.send?.(READY);
}

/** A worker whose gateway has stopped leaves the cluster, so its process can end (the IPC channel would keep it alive). */
export function leaveCluster(): void {
  if (cluster.isWorker) cluster.worker?.disconnect();
}

/**
 * The primary: forks `config.workers` workers (each runs this same command
 * and serves, see serve.ts) and supervises them until a stop signal and the
 * last worker's exit. Rejects when a worker exits before any has served (a
 * start-up failure: the worker printed why), after stopping the others.
 */
export async function superviseWorkers(config: Config): Promise<void> {
  // The primary's lines go where the workers' do (log.file, else stdout); it writes no access lines.
  const logs = openGatewayLogs({ ...config.log, access: false });
  try {
    await new Supervisor(config.workers, logs).run();
  } finally {
    await logs.close();
  }
}

class Supervisor {
  private readonly serving = new WeakSet<Worker>();
  private everServed = false;
  private stopping = false;
  private startFailure: string | null = null;
  private readonly deaths: number[] = [];
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private finished: () => void = () => undefined;

  private readonly logger: Logger;

  constructor(
    private readonly count: number,
    private readonly logs: GatewayLogs,
  ) {
    this.logger = logs.logger.child({ component: 'workers' });
  }

  async run(): Promise<void> {
    const handlers = FORWARDED.map((signal) => [signal, () => this.signalled(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = new Promise<void>((resolve) => (this.finished = resolve));
    cluster.on('message', (worker, message) => this.message(worker, message));
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
    this.logger.info({ workers: this.count }, `starting ${this.count} gateway workers on shared ports`);
    for (let i = 0; i < this.count; i++) this.fork();
    try {
      await done;
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      cluster.removeAllListeners('message');
      cluster.removeAllListeners('exit');
    }
    if (this.startFailure !== null) {
      throw new BerthError({ code: 'internal', userMessage: `${this.startFailure}; its error is printed above. Fix that and start berth serve again.` });
    }
    this.logger.info('every worker has stopped');
  }

  private fork(): void {
    const worker = cluster.fork();
    this.logger.debug({ worker: worker.id, pid: worker.process.pid }, 'worker started');
  }

  private message(worker: Worker, message: unknown): void {
    if (message !== READY) return;
    this.serving.add(worker);
    this.everServed = true;
    this.logger.info({ worker: worker.id, pid: worker.process.pid }, `worker ${worker.id} is serving`);
  }

  private signalled(signal: (typeof FORWARDED)[number]): void {
    if (signal === 'SIGHUP') this.logs.reopen();
    else this.stop(`${signal}: stopping every worker`);
    // Every worker gets the signal (a stop, or SIGHUP's reopening of log files); repeats are theirs to ignore.
    for (const worker of this.workers()) worker.process.kill(signal);
  }

  private stop(why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    this.logger.info({ workers: this.workers().length }, why);
    if (this.workers().length === 0) this.finished();
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
    if (this.stopping) {
      this.logger.info({ worker: worker.id, pid: worker.process.pid, code, signal }, `worker ${worker.id} stopped (${how})`);
      if (this.workers().length === 0 && this.pendingRestarts.size === 0) this.finished();
      return;
    }
    if (!this.serving.has(worker) && !this.everServed) {
      // None has served yet: the same error would stop every restart, so stop and say so.
      this.startFailure = `a gateway worker could not start (${how})`;
      this.logger.error({ worker: worker.id, code, signal }, this.startFailure);
      this.stop('stopping the other workers');
      for (const other of this.workers()) other.process.kill('SIGTERM');
      return;
    }
    const delay = this.restartDelay();
    this.logger.warn({ worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: delay }, `worker ${worker.id} died (${how}); starting another`);
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      this.fork();
    }, delay);
    this.pendingRestarts.add(timer);
  }

  /** A worker dying again and again (its store away, say) is restarted ever more slowly, never in a tight loop. */
  private restartDelay(): number {
    const now = Date.now();
    this.deaths.push(now);
    while ((this.deaths[0] ?? now) < now - RESTART_WINDOW_MS) this.deaths.shift();
    return Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** (this.deaths.length - 1));
  }

  private workers(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  }
}
