import { pipeline, Transform } from 'node:stream';
import { safeName } from '../core/safeName.js';
import type { ExecOptions, ExecProcess } from '../runtime/types.js';
import type { BerthDirectory } from '../spawner/types.js';
import type { AsciicastWriter } from './asciicast.js';
import type { Recordings } from './recordings.js';

export interface ProcessStart {
  proc: ExecProcess;
  /** A line to tell the person before the session starts (it is recorded, or could not be), or null. */
  notice: string | null;
}

export interface ProcessOptions {
  kind: 'ssh' | 'terminal';
}

/**
 * The one way a session process starts in a berth, shared by SSH sessions
 * and the web terminal: the runtime's exec, and for a pty session with
 * recording on, its asciicast recording (output and resizes; keystrokes
 * only with recording.input). Without a pty nothing is recorded: that is
 * scp, sftp and plain `ssh host command`, whose data are files, not a screen.
 */
export async function startProcess(
  directory: BerthDirectory,
  user: string,
  exec: ExecOptions,
  recordings: Recordings | undefined,
  options: ProcessOptions,
): Promise<ProcessStart> {
  if (exec.tty === null || recordings === undefined || !recordings.enabled) return { proc: await directory.exec(user, exec), notice: null };
  const { cols, rows, term } = exec.tty;
  const { writer, notice } = await recordings.start({ user, berth: safeName(user), kind: options.kind, cols, rows, term });
  let proc: ExecProcess;
  try {
    proc = await directory.exec(user, exec);
  } catch (err) {
    writer?.close();
    throw err;
  }
  return { proc: writer === null ? proc : recorded(proc, writer, recordings.recordsInput), notice };
}

/** The same process, its output (and input, when asked) passing through the recording on the way. */
function recorded(proc: ExecProcess, writer: AsciicastWriter, input: boolean): ExecProcess {
  const stdout = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      writer.output(chunk);
      done(null, chunk);
    },
    flush(done) {
      writer.close();
      done();
    },
  });
  pipeline(proc.stdout, stdout, () => writer.close());
  let stdin = proc.stdin;
  if (input) {
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        writer.input(chunk);
        done(null, chunk);
      },
    });
    pipeline(tap, proc.stdin, () => undefined);
    stdin = tap;
  }
  return {
    stdin,
    stdout,
    stderr: proc.stderr,
    resize(rows, cols) {
      writer.resize(cols, rows);
      proc.resize(rows, cols);
    },
    signal: (name) => proc.signal(name),
    exited: proc.exited,
  };
}
