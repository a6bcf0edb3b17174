import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { BerthError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import {
  substituteArgs,
  type BerthExit,
  type BerthSpec,
  type ExecOptions,
  type ExecProcess,
  type Observed,
  type ListeningPort,
  type Runtime,
  type RuntimeProgress,
  type StopOptions,
} from '../types.js';
import { BerthProcess } from './berthProcess.js';
import { freeLoopbackPort } from './freePort.js';
import { connectTcp, notListening } from '../connectTcp.js';
import { dialAddress, summarise, type Listener } from '../procNet.js';
import { listenersOfGroups } from './ownedPorts.js';
import { prepareHome } from './home.js';

export interface LocalRuntimeOptions {
  dataDir: string;
  logger: Logger;
  /** argv run when the environment names no command (the built-in demo app). */
  defaultCommand: string[];
  /** Grace given to a berth replaced because its spec changed, and to every berth on close(). */
  stopGraceSeconds: number;
  /** Warn at start that berths are not kept apart: set when real users sign in (every auth mode but dev). */
  warnUnsandboxed?: boolean;
}

interface LocalBerth {
  spec: BerthSpec;
  port: number;
  run: BerthProcess;
  /** Set when the gateway asked it to stop, so its end is not reported as a crash. */
  stopRequested: boolean;
  /** The sockets it listened on when last looked at. */
  owned: { listeners: Listener[]; at: number } | null;
}

const OWNED_FRESH_MS = 1_000;

/**
 * Berths as child processes of the gateway, sharing the host's network on
 * loopback ports. Nothing to install, no isolation beyond a private home:
 * for one machine and for trying Berth out. Local berths live and die with
 * this instance, so there is nothing to adopt after a restart.
 */
export class LocalRuntime implements Runtime {
  readonly kind = 'local';
  private readonly dataDir: string;
  private readonly logger: Logger;
  private readonly berths = new Map<string, LocalBerth>();
  /** Per-name queue, so an ensure and a stop of one berth never interleave. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly exitListeners: Array<(exit: BerthExit) => void> = [];
  private closed = false;

  constructor(private readonly options: LocalRuntimeOptions) {
    this.dataDir = resolve(options.dataDir);
    this.logger = options.logger.child({ runtime: 'local' });
  }

  async health(): Promise<void> {
    // Child processes of the gateway need nothing that could be missing.
  }

  async prepare(): Promise<void> {
    if (!this.options.warnUnsandboxed) return;
    this.logger.warn(
      "unsandboxed local berths share the host's network: each can connect to every other berth's ports and to anything listening on this host, " +
        'around sign-in and share levels, and can send identity headers from a loopback address; for several users run berths on Docker (runtime.kind: docker)',
    );
  }

  /** Local berths connect from the host's own addresses, which they share with the gateway and any proxy on it: nothing tells them apart. */
  isBerthAddress(): boolean {
    return false;
  }

  ensure(spec: BerthSpec, progress: RuntimeProgress): Promise<Observed> {
    return this.queued(spec.name, async () => {
      if (this.closed) {
        throw new BerthError({ code: 'shutting_down', userMessage: 'The gateway is shutting down; try again in a moment.' });
      }
      const current = this.berths.get(spec.name);
      if (current?.run.running) {
        if (current.spec.hash === spec.hash) return observe(current);
        progress('creating', 'the environment changed; replacing the running one');
        await this.halt(current, this.options.stopGraceSeconds);
      }
      return this.start(spec, progress);
    });
  }

  async inspect(name: string): Promise<Observed> {
    const berth = this.berths.get(name);
    return berth ? observe(berth) : absent(name);
  }

  stop(name: string, options: StopOptions): Promise<void> {
    return this.queued(name, async () => {
      const berth = this.berths.get(name);
      if (!berth) return;
      await this.halt(berth, options.graceSeconds);
      if (options.remove) this.berths.delete(name);
    });
  }

  async list(): Promise<Observed[]> {
    return [...this.berths.values()].map(observe);
  }

  /**
   * Only the berth's own sockets (see ./ownedPorts.ts), at the address each
   * is bound to: another user's (or the gateway's) listener on this host with
   * the same port on another address is never reached through it.
   */
  async connect(name: string, port: number): Promise<Duplex> {
    const address = await this.addressOf(this.running(name), port);
    if (address === null) throw notListening(name, port, '');
    return connectTcp(name, address, port);
  }

  async listening(name: string): Promise<ListeningPort[]> {
    return summarise(await this.ownListeners(this.running(name)));
  }

  async mainPort(name: string): Promise<number> {
    return this.running(name).port;
  }

  private async ownListeners(berth: LocalBerth): Promise<Listener[]> {
    const listeners = await listenersOfGroups(berth.run.groups);
    berth.owned = { listeners, at: Date.now() };
    return listeners;
  }

  /**
   * Where to dial the berth's listener on `port`, or null when it has none.
   * Finding out scans /proc (milliseconds per call), so a port seen in the
   * last OWNED_FRESH_MS is taken as still the berth's; an unseen one is
   * always looked up afresh.
   */
  private async addressOf(berth: LocalBerth, port: number): Promise<string | null> {
    const fresh = berth.owned !== null && Date.now() - berth.owned.at < OWNED_FRESH_MS ? dialAddress(berth.owned.listeners, port) : null;
    return fresh ?? dialAddress(await this.ownListeners(berth), port);
  }

  async logs(name: string, lines: number): Promise<string[]> {
    return this.berths.get(name)?.run.log.tail(lines) ?? [];
  }

  async exec(name: string, options: ExecOptions): Promise<ExecProcess> {
    return this.running(name).run.exec(options);
  }

  onExit(listener: (exit: BerthExit) => void): void {
    this.exitListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const grace = this.options.stopGraceSeconds;
    await Promise.all([...this.berths.keys()].map((name) => this.stop(name, { remove: false, graceSeconds: grace })));
  }

  private async start(spec: BerthSpec, progress: RuntimeProgress): Promise<Observed> {
    const port = await freeLoopbackPort();
    const home = await prepareHome(this.dataDir, spec.name);
    const env: Record<string, string> = {
      ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
      ...spec.env,
      PORT: String(port),
      HOME: home,
      BERTH_USER: spec.user,
      USER: spec.user,
    };
    const argv = substituteArgs(spec.command ?? this.options.defaultCommand, { PORT: port, USER: spec.user });
    progress('starting', `starting ${argv[0] ?? 'the command'}`);
    const berth: LocalBerth = {
      spec,
      port,
      stopRequested: false,
      owned: null,
      run: new BerthProcess(argv, { cwd: home, env }, (exitCode, signal) => this.ended(berth, exitCode, signal)),
    };
    this.berths.set(spec.name, berth);
    try {
      await berth.run.spawned;
    } catch (err) {
      throw new BerthError({
        code: 'spawn_failed',
        userMessage: 'Your environment could not be started: its command did not run. Tell the operator (environment.command).',
        logMessage: `berth ${spec.name}: cannot start ${JSON.stringify(argv[0])}: ${(err as Error).message}`,
        cause: err,
      });
    }
    this.logger.info({ berth: spec.name, pid: berth.run.pid, port }, 'berth process started');
    return observe(berth);
  }

  private async halt(berth: LocalBerth, graceSeconds: number): Promise<void> {
    if (!berth.run.running) return;
    berth.stopRequested = true;
    await berth.run.terminate(graceSeconds);
  }

  private ended(berth: LocalBerth, exitCode: number | null, signal: string | null): void {
    const name = berth.spec.name;
    this.logger.info({ berth: name, pid: berth.run.pid, exitCode, signal, asked: berth.stopRequested }, 'berth process ended');
    if (berth.stopRequested) return;
    for (const listener of this.exitListeners) {
      try {
        listener({ name, exitCode, signal });
      } catch (err) {
        this.logger.error({ berth: name, err }, 'an exit listener failed');
      }
    }
  }

  private running(name: string): LocalBerth {
    const berth = this.berths.get(name);
    if (berth?.run.running) return berth;
    throw new BerthError({
      code: 'berth_not_ready',
      userMessage: 'Your environment is not running; start it and try again.',
      logMessage: `berth ${name} is not running`,
    });
  }

  private queued<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return next;
  }
}

function observe(berth: LocalBerth): Observed {
  const { run, spec } = berth;
  return {
    name: spec.name,
    user: spec.user,
    state: run.running ? 'running' : berth.stopRequested ? 'stopped' : 'exited',
    id: run.pid === null ? null : String(run.pid),
    exitCode: run.exitCode,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    specHash: spec.hash,
    image: null,
  };
}

function absent(name: string): Observed {
  return { name, user: '', state: 'absent', id: null, exitCode: null, startedAt: null, finishedAt: null, specHash: null, image: null };
}
