import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecOptions, ExecProcess } from '../types.js';
import { demultiplexer } from './frames.js';
import { SET_SIZE_LINE, sizedOutput } from '../terminalSize.js';

export interface ExecTarget {
  container: Docker.Container;
  /** Where the process starts: the home, as sshd starts sessions there. */
  workingDir: string | undefined;
  /** Engines before API 1.42 take no terminal size at creation (see withTerminalSize). */
  consoleSize: boolean;
}

/**
 * Every exec carries a random marker in this variable, so signal() can find
 * its process inside the container: the engine has no way to signal an exec.
 */
export const MARKER = 'BERTH_EXEC';

/**
 * Sends signal $1 to the top process carrying marker $2 (the exec's own
 * process, not the children that inherited the marker), as sshd signals the
 * session's process. Runs as the exec's user, which may read its processes'
 * environments; needs sh, tr, grep and sed, which any image with a shell has.
 */
export const SIGNAL_SCRIPT = `
marked() { tr '\\0' '\\n' < "/proc/$1/environ" 2>/dev/null | grep -qx "${MARKER}=$2"; }
for dir in /proc/[0-9]*; do
  pid=\${dir#/proc/}
  marked "$pid" "$2" || continue
  parent=$(sed -n 's/^PPid:[[:space:]]*//p' "$dir/status" 2>/dev/null)
  [ -n "$parent" ] && marked "$parent" "$2" && continue
  kill -s "$1" "$pid" 2>/dev/null
done`;

const EXIT_POLL_MS = 20;
const EXIT_POLL_TRIES = 100;

/**
 * Runs `command` in a running container over a hijacked connection: stdin
 * goes in raw, output comes back raw with a tty or multiplexed without one.
 * Ending stdin half-closes the connection (the engine then closes the
 * process's stdin, so `cat` sees EOF); on a tty it types the EOF character
 * instead, as a terminal has no half-close.
 */
export async function startExec(target: ExecTarget, command: string[], options: ExecOptions): Promise<ExecProcess> {
  const marker = randomBytes(9).toString('hex');
  const { tty } = options;
  const size: [number, number] | undefined = tty ? [dimension(tty.rows), dimension(tty.cols)] : undefined;
  const env = { ...(tty ? { TERM: tty.term } : {}), ...options.env, [MARKER]: marker };
  const wrapped = size !== undefined && !target.consoleSize;
  const exec = await target.container.exec({
    Cmd: wrapped ? withTerminalSize(command, size) : command,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    WorkingDir: target.workingDir,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty !== null,
    ConsoleSize: target.consoleSize ? size : undefined,
  });
  const socket = await exec.start({ hijack: true, stdin: true, Tty: tty !== null, ...(target.consoleSize && size ? { ConsoleSize: size } : {}) });
  // A closed connection shows in the exit status; an unhandled 'error' would crash the gateway.
  socket.on('error', () => undefined);

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const wrapper = wrapped ? sizedOutput() : null;
  if (tty) {
    (wrapper ? socket.pipe(wrapper.output) : socket).pipe(stdout);
    stderr.end();
  } else {
    socket.pipe(demultiplexer(stdout, stderr)).on('error', () => socket.destroy());
  }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    socket.once('close', () => resolve(exitStatus(exec)));
  });

  // Input sent after a resize must find the new size, as on a real terminal, so it waits for the resize call.
  // Its failure is no one's to hear: a resize racing the exec's end fails harmlessly, and Podman answers a
  // done resize with 201, which docker-modem rejects as an error. The first waits for the wrapper's own size.
  let resized: Promise<unknown> | null = wrapper?.sized ?? null;
  const resize = (rows: number, cols: number) => {
    const call = (resized ?? Promise.resolve())
      .then(() => exec.resize({ h: dimension(rows), w: dimension(cols) }))
      .catch(() => undefined)
      .finally(() => {
        if (resized === call) resized = null;
      });
    resized = call;
  };

  return {
    stdin: stdinOf(socket, tty !== null, () => resized),
    stdout,
    stderr,
    resize: (rows, cols) => {
      if (tty) resize(rows, cols);
    },
    signal: (name) => {
      if ((constants.signals as Record<string, number | undefined>)[`SIG${name}`] === undefined) return;
      runDetached(target.container, ['sh', '-c', SIGNAL_SCRIPT, 'berth-signal', name, marker]).catch(() => undefined);
    },
    exited,
  };
}

function stdinOf(socket: Duplex, tty: boolean, pendingResize: () => Promise<unknown> | null): Writable {
  const open = () => !socket.destroyed && !socket.writableEnded;
  const afterResize = (then: () => void) => {
    const waitFor = pendingResize();
    if (waitFor) void waitFor.then(then);
    else then();
  };
  const send = (chunk: Buffer, callback: () => void) => {
    // Input after the process is gone has nowhere to go; the exit status tells what happened.
    if (!open() || socket.write(chunk)) {
      callback();
      return;
    }
    const done = () => {
      socket.off('drain', done).off('close', done);
      callback();
    };
    socket.on('drain', done).on('close', done);
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      afterResize(() => send(chunk, callback));
    },
    final(callback) {
      afterResize(() => {
        if (open()) {
          if (tty) socket.write('\x04');
          else socket.end();
        }
        callback();
      });
    },
  });
}

/** The exit code, once the engine has recorded it (it may trail the end of the stream by a moment). */
async function exitStatus(exec: Docker.Exec): Promise<{ code: number | null; signal: string | null }> {
  for (let i = 0; i < EXIT_POLL_TRIES; i++) {
    try {
      const info = await exec.inspect();
      if (!info.Running) return { code: info.ExitCode, signal: null };
    } catch {
      // The container is gone, and the exec with it.
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, EXIT_POLL_MS));
  }
  return { code: null, signal: null };
}

/** A process the caller does not attach to, e.g. the one that delivers a signal. */
async function runDetached(container: Docker.Container, command: string[]): Promise<void> {
  const exec = await container.exec({ Cmd: command, AttachStdin: false, AttachStdout: false, AttachStderr: false });
  // The answer is a stream even when detached; left unread it would hold its connection open.
  (await exec.start({ Detach: true })).resume();
}

/** Engines before API 1.42 take no size with the exec: a shell sets it, then becomes the command (see SET_SIZE_LINE). */
function withTerminalSize(command: string[], [rows, cols]: [number, number]): string[] {
  return ['/bin/sh', '-c', `${SET_SIZE_LINE}; shift 2; exec "$@"`, 'berth-tty', String(rows), String(cols), ...command];
}

function dimension(n: number): number {
  return Math.max(1, Math.min(1000, Math.floor(n)));
}
