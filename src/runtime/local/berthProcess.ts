import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ExecOptions, ExecProcess } from '../types.js';
import { startExec, type ExecContext } from './exec.js';
import { LogRing } from './logRing.js';
import { exitCodeOf, signalGroup } from './signals.js';

/** How long output may keep flowing after the main process exits before its pipes are cut. */
const DRAIN_MS = 2000;

/**
 * One run of a local berth: the main process, leading its own process group,
 * its output ring, and the execs started beside it. Like a container whose
 * PID 1 ends, the end of the main process ends everything else in the group
 * and every exec, so nothing of a berth outlives it.
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
  private readonly child: ChildProcess;
  private readonly execs = new Set<number>();

  /** `onEnd` is called when a started process ends, for any reason. */
  constructor(
    argv: readonly string[],
    private readonly context: ExecContext,
    onEnd: (exitCode: number | null, signal: string | null) => void,
  ) {
    const [file = '', ...args] = argv;
    this.child = spawn(file, args, { cwd: context.cwd, env: context.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.pid = this.child.pid ?? null;
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => this.log.write(text));
    }
    this.spawned = once(this.child, 'spawn').then(
      () => undefined,
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

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the process has ended. */
  async terminate(graceSeconds: number): Promise<void> {
    if (!this.running || this.pid === null) return this.ended;
    const pid = this.pid;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceSeconds * 1000);
    await this.ended;
    clearTimeout(timer);
  }

  async exec(options: ExecOptions): Promise<ExecProcess> {
    const started = await startExec(this.context, options);
    this.execs.add(started.pid);
    void started.process.exited.then(() => this.execs.delete(started.pid));
    // The main process may have ended while the exec was starting.
    if (!this.running) signalGroup(started.pid, 'SIGKILL');
    return started.process;
  }

  /** The main process has exited: end what it leaves behind, and let its output drain, but not forever. */
  private reap(): void {
    if (this.pid !== null) signalGroup(this.pid, 'SIGKILL');
    for (const pid of this.execs) signalGroup(pid, 'SIGKILL');
    const cut = setTimeout(() => {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
    }, DRAIN_MS);
    cut.unref();
    void this.ended.then(() => clearTimeout(cut));
  }
}
