import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { BerthError } from '../../core/errors.js';
import type { ExecOptions, ExecProcess } from '../types.js';
import { startExec, type ExecContext } from './exec.js';
import { LogRing } from './logRing.js';
import type { Confinement } from './sandbox/bwrap.js';
import { exitCodeOf, signalGroup } from './signals.js';

/** How long output may keep flowing after the main process exits before its pipes are cut. */
const DRAIN_MS = 2000;

/**
 * One run of a local berth: the main process, leading its own process group,
 * its output ring, and the execs started beside it. Like a container whose
 * PID 1 ends, the end of the main process ends everything else in the group
 * and every exec, so nothing of a berth outlives it.
 *
 * With a confinement (./sandbox/) the main process is bwrap, which reports
 * the sandbox's first process (its PID namespace's init, as the host sees
 * it). Execs and the port relay (../namespaceReach.ts) enter that
 * process's namespaces once the sandbox says it is ready; a stop signals
 * its process group (bwrap's --new-session makes it the berth's
 * session), and killing bwrap takes the whole PID namespace with it.
 */
export class BerthProcess {
  readonly pid: number | null;
  readonly startedAt = Date.now();
  readonly log = new LogRing();
  exitCode: number | null = null;
  finishedAt: number | null = null;
  /** Resolves once the process has started; rejects if it could not be. */
  readonly spawned: Promise<void>;
  /** Resolves once the process has exited and its output is read. */
  readonly ended: Promise<void>;
  /** The sandbox's first process, once bwrap has reported it; null unconfined. */
  sandboxPid: number | null = null;
  private readonly child: ChildProcess;
  private readonly execs = new Set<number>();
  private frozen = false;

  /** `onEnd` is called when a started process ends, for any reason. */
  constructor(
    argv: readonly string[],
    private readonly context: ExecContext,
    onEnd: (exitCode: number | null, signal: string | null) => void,
    private readonly confinement: Confinement | null = null,
  ) {
    const [file = '', ...args] = confinement ? confinement.start(argv) : argv;
    const stdio = confinement ? (['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] as const) : (['ignore', 'pipe', 'pipe'] as const);
    this.child = spawn(file, args, { cwd: context.cwd, env: context.env, stdio: [...stdio], detached: true });
    this.pid = this.child.pid ?? null;
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => this.log.write(text));
    }
    const [info, ready] = confinement ? [this.child.stdio[3] as Readable, this.child.stdio[4] as Readable] : [null, null];
    this.spawned = once(this.child, 'spawn').then(
      async () => {
        if (!info || !ready) return;
        const [pid, said] = await Promise.all([sandboxPidFrom(info), readAll(ready)]);
        if (said !== 'ready\n') throw new Error('the sandbox did not get ready (see the lines before)');
        this.sandboxPid = pid;
      },
      (err: Error) => {
        this.log.write(`berth: cannot start ${JSON.stringify(file)}: ${err.message}\n`);
        throw err;
      },
    );
    this.child.once('exit', () => this.reap());
    this.ended = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.finishedAt = Date.now();
        this.exitCode = this.pid === null ? null : exitCodeOf(code, signal);
        resolve();
        // The signal's name without SIG, as ExecProcess and BerthExit name them.
        if (this.pid !== null) onEnd(this.exitCode, signal === null ? null : signal.slice(3));
      });
    });
    // Settled here so a failed spawn is never an unhandled rejection; callers await `spawned` themselves.
    this.spawned.catch(() => undefined);
  }

  /** The process groups of this berth: the main process's and each exec's. */
  get groups(): Set<number> {
    return new Set(this.pid === null ? this.execs : [this.pid, ...this.execs]);
  }

  get running(): boolean {
    return this.pid !== null && this.finishedAt === null;
  }

  /** Set while pause() holds the berth's processes stopped. */
  get paused(): boolean {
    return this.frozen && this.running;
  }

  /**
   * SIGSTOP to every process group of the berth (the main one, the
   * sandbox's, each exec's): its processes keep their memory and use no CPU
   * until resume(). Unlike a container engine's cgroup freezer, this misses
   * a process that left the berth's groups (setsid); berths that need every
   * process frozen run on Docker or Podman.
   */
  pause(): void {
    if (!this.running) return;
    this.frozen = true;
    this.signalAll('SIGSTOP');
  }

  /** SIGCONT to every group pause() stopped. */
  resume(): void {
    this.frozen = false;
    if (this.running) this.signalAll('SIGCONT');
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the process has ended. */
  async terminate(graceSeconds: number): Promise<void> {
    if (!this.running || this.pid === null) return this.ended;
    // The berth's own processes get the TERM; bwrap itself would end the sandbox at once.
    signalGroup(this.sandboxPid ?? this.pid, 'SIGTERM');
    // A stopped process only acts on its TERM once continued.
    if (this.frozen) this.resume();
    const timer = setTimeout(() => this.kill(), graceSeconds * 1000);
    await this.ended;
    clearTimeout(timer);
  }

  async exec(options: ExecOptions): Promise<ExecProcess> {
    const started = await startExec(this.context, options, this.enter());
    this.execs.add(started.pid);
    void started.process.exited.then(() => this.execs.delete(started.pid));
    // The main process may have ended while the exec was starting.
    if (!this.running) signalGroup(started.pid, 'SIGKILL');
    return started.process;
  }

  /**
   * The sandbox's first process, to enter; null unconfined. Throws while the
   * sandbox is not (or no longer) ready: nothing may enter it before its
   * masks are in place.
   */
  enterablePid(): number | null {
    if (this.confinement === null) return null;
    if (this.sandboxPid === null || !this.running) {
      throw new BerthError({ code: 'berth_not_ready', userMessage: 'Your environment is still starting; try again in a moment.', logMessage: 'the sandbox is not ready' });
    }
    return this.sandboxPid;
  }

  /** The argv prefix into the running sandbox; empty unconfined. */
  private enter(): string[] {
    const pid = this.enterablePid();
    return pid === null || this.confinement === null ? [] : this.confinement.enter(pid);
  }

  private signalAll(signal: NodeJS.Signals): void {
    for (const group of this.groups) signalGroup(group, signal);
    if (this.sandboxPid !== null) signalGroup(this.sandboxPid, signal);
  }

  private kill(): void {
    if (this.pid !== null) signalGroup(this.pid, 'SIGKILL');
    if (this.sandboxPid !== null) signalGroup(this.sandboxPid, 'SIGKILL');
  }

  /** The main process has exited: end what it leaves behind, and let its output drain, but not forever. */
  private reap(): void {
    this.kill();
    for (const pid of this.execs) signalGroup(pid, 'SIGKILL');
    const cut = setTimeout(() => {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
    }, DRAIN_MS);
    cut.unref();
    void this.ended.then(() => clearTimeout(cut));
  }
}

/** bwrap --info-fd writes JSON once the sandbox runs, then closes the descriptor; `child-pid` is its first process. */
async function sandboxPidFrom(info: Readable): Promise<number> {
  const text = await readAll(info);
  const pid = (JSON.parse(text || '{}') as { 'child-pid'?: unknown })['child-pid'];
  if (typeof pid !== 'number') throw new Error('bwrap did not start the sandbox (see the lines before)');
  return pid;
}

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}
