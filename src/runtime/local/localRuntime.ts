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
import { NamespaceReach } from '../namespaceReach.js';
import { BerthProcess } from './berthProcess.js';
import { freeLoopbackPort } from './freePort.js';
import { connectTcp, notListening } from '../connectTcp.js';
import { dialAddress, summarise, type Listener } from '../procNet.js';
import { listenersOfGroups } from './ownedPorts.js';
import { prepareHome } from './home.js';
import { writeHomeFiles } from './homeFiles.js';
import { bwrapConfinement, enterNetworkArgs } from './sandbox/bwrap.js';
import type { SandboxLayout } from './sandbox/layout.js';

export interface LocalRuntimeOptions {
  dataDir: string;
  logger: Logger;
  /** argv run when the environment names no command (the built-in demo app). */
  defaultCommand: string[];
  /** Grace given to a berth replaced because its spec changed, and to every berth on close(). */
  stopGraceSeconds: number;
  /** Warn at start that berths are not kept apart: set when real users sign in (every auth mode but dev). */
  warnUnsandboxed?: boolean;
  /** Run each berth in a bubblewrap sandbox laid out so (./sandbox/); absent or null: plain child processes. */
  sandbox?: SandboxLayout | null;
}

interface LocalBerth {
  spec: BerthSpec;
  port: number;
  run: BerthProcess;
  /** Set when the gateway asked it to stop, so its end is not reported as a crash. */
  stopRequested: boolean;
  /** The sockets it listened on when last looked at. */
  owned: { listeners: Listener[]; at: number } | null;
  /** The scan of its sockets in flight, which callers at the same moment share (one takes 100 ms on a busy host). */
  scan: { listeners: Promise<Listener[]>; began: number } | null;
  /** The scan queued behind the one in flight, for callers that need one begun after they asked. */
  nextScan: Promise<Listener[]> | null;
  /** Where its main port answered last; kept until a connection there fails, so the proxy's new connections scan nothing. */
  mainAddress: string | null;
}

const OWNED_FRESH_MS = 1_000;

/**
 * Berths as child processes of the gateway. Sandboxed (bubblewrap, see
 * ./sandbox/), each has its own PID and network namespace and sees the host
 * read-only with its home, and nothing of the gateway's data or other homes;
 * unsandboxed, berths share the host's network on loopback ports and have no
 * isolation beyond a private home. Either way each still gets a port that is
 * free on the host, so PORT means the same in both. Local berths live and
 * die with this instance, so there is nothing to adopt after a restart.
 * Pause is SIGSTOP to the berth's process groups, resume SIGCONT (./berthProcess.ts).
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
  /** The relays into sandboxes' network namespaces (../namespaceReach.ts), one per berth once connected to. */
  private readonly reach: NamespaceReach;

  constructor(private readonly options: LocalRuntimeOptions) {
    this.dataDir = resolve(options.dataDir);
    this.logger = options.logger.child({ runtime: 'local' });
    this.reach = new NamespaceReach(this.logger, enterNetworkArgs);
  }

  async health(): Promise<void> {
    // Child processes of the gateway need nothing that could be missing.
  }

  async prepare(): Promise<void> {
    const sandbox = this.options.sandbox ?? null;
    if (sandbox !== null) {
      this.logger.info({ sandbox: 'bwrap', hidden: sandbox.masks.map((m) => m.path) }, 'local berths run in a bubblewrap sandbox each');
      return;
    }
    if (!this.options.warnUnsandboxed) return;
    this.logger.warn(
      "unsandboxed local berths share the host's network: each can connect to every other berth's ports and to anything listening on this host, " +
        'around sign-in and share levels, and can send identity headers from a loopback address; to keep them apart install bubblewrap ' +
        '(runtime.local.sandbox), or run berths on Docker (runtime.kind: docker)',
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
        // A berth the gateway lost track of while paused is thawed, not left frozen, as on Docker.
        current.run.resume();
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

  pause(name: string): Promise<void> {
    return this.queued(name, async () => this.running(name).run.pause());
  }

  resume(name: string): Promise<void> {
    return this.queued(name, async () => this.running(name).run.resume());
  }

  /**
   * Sandboxed, through the relay in the berth's network namespace, where
   * every listener is the berth's. Unsandboxed, only the berth's own sockets
   * (see ./ownedPorts.ts), at the address each is bound to: another user's
   * (or the gateway's) listener on this host with the same port on another
   * address is never reached through it.
   */
  async connect(name: string, port: number): Promise<Duplex> {
    const berth = this.running(name);
    const sandboxPid = berth.run.enterablePid();
    if (sandboxPid !== null) return this.reach.connect(name, sandboxPid, port);
    const main = port === berth.port;
    const address = (main ? berth.mainAddress : null) ?? (await this.addressOf(berth, port));
    if (address === null) throw notListening(name, port, '');
    try {
      const socket = await connectTcp(name, address, port);
      if (main) berth.mainAddress = address;
      return socket;
    } catch (err) {
      if (main) berth.mainAddress = null;
      throw err;
    }
  }

  async listening(name: string): Promise<ListeningPort[]> {
    const berth = this.running(name);
    const sandboxPid = berth.run.enterablePid();
    const inSandbox = sandboxPid === null ? null : await this.reach.listeners(sandboxPid);
    return summarise(inSandbox ?? (await this.ownListeners(berth, Date.now())));
  }

  async mainPort(name: string): Promise<number> {
    return this.running(name).port;
  }

  /**
   * The berth's listening sockets from a scan begun at `since` or later. One
   * scan runs at a time and at most one waits behind it, shared by everyone
   * who asks meanwhile, so a burst of new connections costs two scans, not one each.
   */
  private ownListeners(berth: LocalBerth, since: number): Promise<Listener[]> {
    const current = berth.scan;
    if (current !== null && current.began >= since) return current.listeners;
    if (current === null) return this.startScan(berth).listeners;
    berth.nextScan ??= current.listeners.catch(() => []).then(() => {
      berth.nextScan = null;
      return this.startScan(berth).listeners;
    });
    return berth.nextScan;
  }

  private startScan(berth: LocalBerth): { began: number; listeners: Promise<Listener[]> } {
    const scan = { began: Date.now(), listeners: listenersOfGroups(berth.run.groups) };
    berth.scan = scan;
    const done = () => {
      if (berth.scan === scan) berth.scan = null;
    };
    scan.listeners.then((listeners) => {
      berth.owned = { listeners, at: scan.began };
      done();
    }, done);
    return scan;
  }

  /**
   * Where to dial the berth's listener on `port`, or null when it has none.
   * A port seen in a scan of the last OWNED_FRESH_MS (or one in flight) is
   * taken as still the berth's; an unseen one is looked up afresh.
   */
  private async addressOf(berth: LocalBerth, port: number): Promise<string | null> {
    const asked = Date.now();
    const known = berth.owned !== null && asked - berth.owned.at < OWNED_FRESH_MS ? dialAddress(berth.owned.listeners, port) : null;
    if (known !== null) return known;
    const inFlight = berth.scan !== null ? dialAddress(await berth.scan.listeners, port) : null;
    return inFlight ?? dialAddress(await this.ownListeners(berth, asked), port);
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
    this.reach.close();
  }

  private async start(spec: BerthSpec, progress: RuntimeProgress): Promise<Observed> {
    const port = await freeLoopbackPort();
    const home = await prepareHome(this.dataDir, spec.name);
    if (spec.files?.length) await writeHomeFiles(home, spec.name, spec.files);
    const env: Record<string, string> = {
      ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
      ...spec.env,
      PORT: String(port),
      HOME: home,
      BERTH_USER: spec.user,
      USER: spec.user,
    };
    const argv = substituteArgs(spec.command ?? this.options.defaultCommand, { PORT: port, USER: spec.user });
    const sandbox = this.options.sandbox ?? null;
    progress('starting', `starting ${argv[0] ?? 'the command'}${sandbox ? ' in its sandbox' : ''}`);
    const berth: LocalBerth = {
      spec,
      port,
      stopRequested: false,
      owned: null,
      scan: null,
      nextScan: null,
      mainAddress: null,
      run: new BerthProcess(
        argv,
        { cwd: home, env },
        (exitCode, signal) => this.ended(berth, exitCode, signal),
        sandbox ? bwrapConfinement(sandbox, spec, home) : null,
      ),
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
    this.logger.info({ berth: spec.name, pid: berth.run.pid, sandboxPid: berth.run.sandboxPid, port }, 'berth process started');
    return observe(berth);
  }

  private async halt(berth: LocalBerth, graceSeconds: number): Promise<void> {
    if (!berth.run.running) return;
    berth.stopRequested = true;
    await berth.run.terminate(graceSeconds);
  }

  private ended(berth: LocalBerth, exitCode: number | null, signal: string | null): void {
    const name = berth.spec.name;
    this.reach.forget(name);
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
    state: run.paused ? 'paused' : run.running ? 'running' : berth.stopRequested ? 'stopped' : 'exited',
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
