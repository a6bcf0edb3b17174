import type { PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type { Config } from '../config/schema.js';
import { asBerthError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ExecOptions } from '../runtime/types.js';
import type { LaunchRequest } from '../spawner/plan.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { SshAudit } from './audit.js';
import { startProcess } from '../terminal/pty.js';
import type { Recordings } from '../terminal/recordings.js';
import { bridge, type Exit } from './bridge.js';
import type { IdleClock, SessionHandle } from './limits.js';
import { ensureBerth, failureReport } from './progress.js';
import { withScpCheck } from './scp.js';
import { sftpServerCommand } from './sftp.js';

export interface SessionContext {
  /** Whose berth this connection opens. */
  user: string;
  config: Config;
  directory: BerthDirectory;
  logger: Logger;
  metrics: Metrics;
  /** Registers a running session with the limits (throws when over them); returns the release. */
  track(handle: SessionHandle): () => void;
  clock: IdleClock;
  audit: SshAudit;
  /** What this connection tells a spawn (./connection.ts). */
  launch: LaunchRequest;
  /** Where pty sessions are recorded, when recording is on. */
  recordings?: Recordings;
}

/** RFC 4254 §6.10's signal names, the ones a client may send. */
const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);
/** How long a session whose berth went away waits for the spawner to say why. */
const STOP_REASON_WAIT_MS = 3000;
/** What ssh itself exits with when the command could not run. */
const COULD_NOT_RUN = 255;
/** The status of a session whose berth stopped or died under it, as ssh's when the far end goes away (README, "Commands"). */
const BERTH_WENT_AWAY = 255;

/**
 * One session channel: gathers env and pty requests, then runs the shell,
 * the command, or the sftp-server in the user's berth (started first if need
 * be) and relays it until it exits.
 */
export function handleSession(session: Session, context: SessionContext): void {
  new BerthSession(session, context);
}

class BerthSession implements SessionHandle {
  private readonly env: Record<string, string> = {};
  private tty: ExecOptions['tty'] = null;
  private channel: ServerChannel | null = null;
  private resize: ((rows: number, cols: number) => void) | null = null;
  private sendSignal: ((name: string) => void) | null = null;
  private stopReason: string | null = null;
  private readonly stopListeners = new Set<(why: string) => void>();

  constructor(
    session: Session,
    private readonly context: SessionContext,
  ) {
    const { config } = context;
    session.on('env', (accept, reject, { key, val }) => {
      if (envAllowed(config.ssh.envAllowlist, key)) {
        this.env[key] = val;
        accept?.();
      } else {
        reject?.();
      }
    });
    session.on('pty', (accept, _reject, info: PseudoTtyInfo) => {
      this.tty = { term: info.term || 'xterm', rows: info.rows || 24, cols: info.cols || 80 };
      accept?.();
    });
    session.on('window-change', (accept, _reject, { rows, cols }) => {
      context.logger.debug({ rows, cols }, 'ssh window size changed');
      if (this.tty) this.tty = { ...this.tty, rows, cols };
      this.resize?.(rows, cols);
      accept?.();
    });
    session.on('signal', (accept, reject, { name }) => {
      if (!SIGNALS.has(name) || !this.sendSignal) return reject?.();
      this.sendSignal(name);
      accept?.();
    });
    // The gateway holds no agent or X server to forward to; refused, as sshd with AllowAgentForwarding/X11Forwarding no.
    session.on('auth-agent', (_accept, reject) => {
      context.logger.info({ code: 'agent_forwarding_refused' }, 'ssh agent forwarding refused: the gateway does not forward agents');
      reject?.();
    });
    session.on('x11', (_accept, reject) => {
      context.logger.info({ code: 'x11_forwarding_refused' }, 'ssh X11 forwarding refused: the gateway does not forward X11');
      reject?.();
    });
    session.on('shell', (accept) => void this.run(accept(), 'shell', config.environment.shell));
    session.on('exec', (accept, _reject, { command }) => void this.run(accept(), 'exec', [shellOf(config), '-c', withScpCheck(command)], command));
    session.on('subsystem', (accept, reject, { name }) => {
      if (name !== 'sftp') return reject?.();
      // SFTP is a binary protocol: a terminal would mangle it.
      this.tty = null;
      void this.run(accept(), 'sftp', sftpServerCommand(config.ssh.sftpServerPath));
    });
  }

  end(notice: string): void {
    this.channel?.stderr.write(`${this.eol()}berth: ${notice}${this.eol()}`);
    // Ends like a hung-up terminal, so the client gets the exit and the line above before the connection goes.
    if (this.sendSignal) this.sendSignal('HUP');
    else this.channel?.end();
  }

  berthStopped(why: string): void {
    this.stopReason = why;
    for (const listener of this.stopListeners) listener(why);
  }

  private async run(channel: ServerChannel, kind: 'shell' | 'exec' | 'sftp', command: string[] | null, asTyped?: string): Promise<void> {
    const { user, directory, metrics } = this.context;
    const logger = this.context.logger.child({ session: kind, pty: this.tty !== null });
    this.channel = channel;
    let gone = false;
    const closed = new Promise<void>((resolve) => channel.once('close', resolve)).then(() => {
      gone = true;
    });
    channel.on('error', (err: Error) => logger.debug({ error: err.message }, 'ssh channel error'));
    const releases: Array<() => void> = [];
    metrics.sshSessions.inc();
    try {
      releases.push(this.context.track(this));
      releases.push(directory.hold(user));
      await this.context.clock.busy(ensureBerth(directory, user, (text) => channel.stderr.write(text), this.eol(), this.context.launch));
      if (gone) return;
      const startedWith = this.tty;
      const { proc, notice } = await startProcess(directory, user, { command, env: this.env, tty: startedWith }, this.context.recordings, { kind: 'ssh' });
      if (notice !== null) channel.stderr.write(`${notice}${this.eol()}`);
      this.resize = (rows, cols) => proc.resize(rows, cols);
      // A window-change while the process was starting had no process to resize (it only replaced this.tty): sent now.
      if (this.tty !== null && this.tty !== startedWith) proc.resize(this.tty.rows, this.tty.cols);
      this.sendSignal = (name) => proc.signal(name);
      logger.info('ssh session started');
      this.context.audit('ssh.session.opened', 'ok', { type: kind, pty: this.tty !== null, ...(asTyped === undefined ? {} : { command: asTyped }) });
      const exit = await bridge(proc, channel, closed, this.context.clock.activity);
      logger.info({ exit }, 'ssh session ended');
      this.context.audit('ssh.session.closed', 'ok', { type: kind, exitStatus: exit?.code ?? null, signal: exit?.signal ?? null });
      if (exit !== null) await this.finish(channel, exit, closed);
    } catch (err) {
      const error = asBerthError(err);
      logger.warn({ code: error.code, detail: error.logMessage }, 'ssh session could not run');
      this.context.audit('ssh.session.opened', 'failed', { type: kind, code: error.code, ...(asTyped === undefined ? {} : { command: asTyped }) });
      await written(channel.stderr, failureReport(directory, user, error, this.eol()), closed);
      channel.exit(COULD_NOT_RUN);
    } finally {
      channel.end();
      for (const release of releases) release();
      metrics.sshSessions.dec();
    }
  }

  /**
   * Passes the exit on; when the berth went away under the process, says
   * why (the spawner's reason: who stopped it, or how it died) and exits
   * BERTH_WENT_AWAY instead. A berth that dies takes its processes with it
   * by SIGKILL, often before the runtime has reported the death, so such an
   * exit waits a moment for the reason even while the berth still looks ready.
   */
  private async finish(channel: ServerChannel, exit: Exit, closed: Promise<void>): Promise<void> {
    const ready = this.context.directory.status(this.context.user).state === 'ready';
    const why = ready && !killed(exit) ? null : await this.whyStopped();
    if (why !== null) {
      await written(channel.stderr, `${this.eol()}berth: your environment stopped (${why}); connect again to start it.${this.eol()}`, closed);
      channel.exit(BERTH_WENT_AWAY);
    } else if (exit.signal !== null) {
      channel.exit(exit.signal, false, '');
    } else {
      channel.exit(exit.code ?? COULD_NOT_RUN);
    }
  }

  /** The process usually ends before the spawner has finished stopping the berth; its reason follows shortly. */
  private whyStopped(): Promise<string | null> {
    if (this.stopReason !== null) return Promise.resolve(this.stopReason);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(null), STOP_REASON_WAIT_MS);
      const done = (why: string | null) => {
        clearTimeout(timer);
        this.stopListeners.delete(done);
        resolve(why);
      };
      this.stopListeners.add(done);
    });
  }

  /** A terminal in raw mode needs carriage returns; pipes must get plain newlines. */
  private eol(): string {
    return this.tty ? '\r\n' : '\n';
  }
}

/** Ended as everything in a dying berth is: by SIGKILL (137 where only codes are reported), or with no status at all. */
function killed(exit: Exit): boolean {
  return exit.signal === 'KILL' || exit.code === 137 || (exit.code === null && exit.signal === null);
}

/** Exec commands run as sshd runs them: `<shell> -c <command>`. */
function shellOf(config: Config): string {
  return config.environment.shell?.[0] ?? '/bin/sh';
}

/** Names matched exactly, or by prefix when the pattern ends in "*" (e.g. LC_*). */
export function envAllowed(allowlist: readonly string[], name: string): boolean {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return false;
  return allowlist.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern));
}

function written(stream: NodeJS.WritableStream, text: string, closed: Promise<unknown>): Promise<void> {
  return Promise.race([new Promise<void>((resolve) => stream.write(text, () => resolve())), closed.then(() => undefined)]);
}
