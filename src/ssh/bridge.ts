import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { ServerChannel } from 'ssh2';
import type { ExecProcess } from '../runtime/types.js';
import { hangUpProcess } from '../terminal/hangUp.js';

export type Exit = Awaited<ExecProcess['exited']>;

/**
 * Joins a process in the berth to an SSH channel: client input to stdin (its
 * EOF closes stdin, so `cmd < file` and pipes end), stdout and stderr to the
 * channel's two streams. Resolves with the exit once the process has ended
 * and all its output is with the client; with null when the client went away
 * first, after hanging the process up as sshd does.
 */
export async function bridge(proc: ExecProcess, channel: ServerChannel, closed: Promise<void>, activity: () => void): Promise<Exit | null> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  // The process may exit before reading all its input; the exit status tells what happened.
  proc.stdin.on('error', () => undefined);
  channel.pipe(proc.stdin);
  proc.stdout.pipe(channel, { end: false });
  proc.stderr.pipe(channel.stderr, { end: false });
  for (const stream of [channel, proc.stdout, proc.stderr]) stream.on('data', activity);

  const output = Promise.all([proc.stdout, proc.stderr].map((s) => finished(s).catch(() => undefined)));
  const gone = await Promise.race([output.then(() => false), closed.then(() => true)]);
  if (gone) return hangUp(proc, channel, () => exited);
  const exit = await Promise.race([proc.exited, closed.then(() => null)]);
  if (exit === null) return hangUp(proc, channel, () => exited);
  channel.unpipe(proc.stdin);
  const delivered = await Promise.race([Promise.all([drained(channel), drained(channel.stderr)]).then(() => true), closed.then(() => false)]);
  return delivered ? exit : null;
}

async function hangUp(proc: ExecProcess, channel: ServerChannel, exited: () => boolean): Promise<null> {
  channel.unpipe(proc.stdin);
  // Nobody reads its output any more: let it flow away, so the process is not stuck writing.
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.unpipe();
    stream.resume();
  }
  await hangUpProcess(proc, exited);
  return null;
}

/** Resolves once everything written so far has left the stream (an empty write completes after all before it). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
}
