import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import pty from 'node-pty';
import { BerthError } from '../../core/errors.js';
import type { ExecOptions, ExecProcess } from '../types.js';
import { pipePtyOutput } from './ptyOutput.js';
import { signalGroup, signalName, signalNumber } from './signals.js';

/** Where a local berth runs its processes. */
export interface ExecContext {
  cwd: string;
  env: Record<string, string>;
}

export interface StartedExec {
  process: ExecProcess;
  /** Leader of the exec's own process group, so the berth can end it with its main process. */
  pid: number;
}

/**
 * Runs a command (or the berth's login shell) beside a local berth's main
 * process, as `docker exec` does for a container. Each exec leads its own
 * process group so a signal or the berth's end reaches everything it started.
 * The exit signal is reported by name without "SIG", as SSH's exit-signal wants.
 * `enter` is an argv prefix that runs the command inside the berth's sandbox.
 */
export async function startExec(context: ExecContext, options: ExecOptions, enter: readonly string[] = []): Promise<StartedExec> {
  const shell = context.env.SHELL || '/bin/sh';
  const [file = shell, ...args] = [...enter, ...(options.command?.length ? options.command : [shell, '-l'])];
  // Client variables come last, as OpenSSH applies AcceptEnv ones over its own.
  const env = { ...context.env, SHELL: shell, ...(options.tty ? { TERM: options.tty.term } : {}), ...options.env };
  const spawnOptions = { cwd: context.cwd, env };
  return options.tty
    ? withTerminal(file, args, spawnOptions, options.tty)
    : withPipes(file, args, spawnOptions);
}

function sendSignal(pid: number, name: string): void {
  if (signalNumber(name) !== null) signalGroup(pid, `SIG${name}` as NodeJS.Signals);
}

async function withPipes(file: string, args: string[], options: ExecContext): Promise<StartedExec> {
  const child = spawn(file, args, { ...options, stdio: 'pipe', detached: true });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal: signal === null ? null : signalName(signal) }));
  });
  try {
    // Rejects with the spawn error (e.g. ENOENT) instead of 'spawn'.
    await once(child, 'spawn');
  } catch (err) {
    throw new BerthError({
      code: 'bad_request',
      userMessage: `Cannot run "${file}" in your environment: ${(err as NodeJS.ErrnoException).code ?? 'failed'}.`,
      logMessage: `exec of ${JSON.stringify(file)} failed: ${(err as Error).message}`,
      cause: err,
    });
  }
  // Writing after the process exits fails with EPIPE; the exit status already says what happened.
  child.stdin.on('error', () => undefined);
  const pid = child.pid as number;
  return {
    pid,
    process: {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      resize: () => undefined,
      signal: (name) => sendSignal(pid, name),
      exited,
    },
  };
}

function withTerminal(
  file: string,
  args: string[],
  options: ExecContext,
  tty: NonNullable<ExecOptions['tty']>,
): StartedExec {
  const size = (n: number) => Math.max(1, Math.floor(n));
  // encoding: null hands over raw bytes, so binary output and split UTF-8 pass through intact.
  const term = pty.spawn(file, args, { ...options, name: tty.term, rows: size(tty.rows), cols: size(tty.cols), encoding: null });
  let ended = false;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stderr.end();
  pipePtyOutput(term, stdout);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    // node-pty reports exit only after its socket closed, which ./ptyOutput.ts puts off until the output is drained.
    term.onExit(({ exitCode, signal }) => {
      ended = true;
      stdout.end();
      resolve(signal ? { code: null, signal: signalName(signal) } : { code: exitCode, signal: null });
    });
  });
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!ended) term.write(chunk);
      callback();
    },
    // A terminal has no half-close; end of input is the EOF character, as typing Ctrl-D.
    final(callback) {
      if (!ended) term.write('\x04');
      callback();
    },
  });
  return {
    pid: term.pid,
    process: {
      stdin,
      stdout,
      stderr,
      resize: (rows, cols) => {
        if (!ended) term.resize(size(cols), size(rows));
      },
      signal: (name) => sendSignal(term.pid, name),
      exited,
    },
  };
}
