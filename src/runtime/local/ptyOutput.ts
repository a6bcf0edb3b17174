import { readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { IPty } from 'node-pty';

/** Output still arriving this long after node-pty gave up on it, with the reader keeping up, means there is no more. */
const DRAIN_IDLE_MS = 200;
/**
 * More than the kernel's pty buffers (and the socket's own) hold once the
 * process has ended: past this, something else (a background job) still
 * writes to the terminal, and the session ends anyway.
 */
const DRAIN_MAX_BYTES = 1024 * 1024;
const READ_BYTES = 64 * 1024;

/** node-pty's socket on the terminal's master side: not part of its API, so every use of it is optional. */
interface PtySocket {
  readonly readableEnded: boolean;
  destroy(error?: Error): unknown;
  prependListener(event: 'end', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Carries a node-pty terminal's output into `stdout` with backpressure (the
 * terminal is paused while `stdout` is full), and makes sure its last bytes
 * arrive; ssh -tt with heavy output lost its last lines two ways:
 *
 * - libuv ends the read as soon as the master side reports a hang-up after a
 *   read that did not fill its buffer, as it may for a socket; a pty gives at
 *   most its line discipline's buffer (4 KiB) per read, so when the process
 *   ends the kernel may still hold output. It is read here, before the
 *   descriptor closes, until the kernel says there is no more (EIO).
 * - node-pty destroys its socket 200 ms after the process exits unless the
 *   output has ended by then, dropping what was not read; a socket paused
 *   for a slow reader is not read in those 200 ms. That destroy is put off
 *   until the output has run dry: flowing and silent for DRAIN_IDLE_MS, or
 *   DRAIN_MAX_BYTES read since.
 */
export function pipePtyOutput(term: IPty, stdout: Writable): void {
  let paused = false;
  /** node-pty's own destroy, once it asked for it; null until then and after it ran. */
  let giveUp: (() => void) | null = null;
  let sinceGiveUp = 0;
  let idle: NodeJS.Timeout | null = null;

  const finish = () => {
    const destroy = giveUp;
    giveUp = null;
    destroy?.();
  };
  const settle = () => {
    if (idle) clearTimeout(idle);
    idle = null;
    if (giveUp === null || paused) return;
    if (sinceGiveUp > DRAIN_MAX_BYTES) finish();
    else idle = setTimeout(finish, DRAIN_IDLE_MS);
  };

  term.onData((data) => {
    if (giveUp) sinceGiveUp += data.length;
    if (!stdout.write(data)) {
      paused = true;
      term.pause();
      stdout.once('drain', () => {
        paused = false;
        term.resume();
        settle();
      });
    }
    settle();
  });

  const socket = (term as unknown as { _socket?: PtySocket })._socket;
  const fd = (term as unknown as { fd?: number }).fd;
  if (!socket) return;
  if (typeof fd === 'number') {
    // Before the socket's own end handling, which closes the descriptor.
    socket.prependListener('end', () => {
      for (const chunk of readRest(fd)) stdout.write(chunk);
    });
  }
  const destroy = socket.destroy.bind(socket);
  socket.destroy = (error?: Error) => {
    // An error (EIO: the end), the socket's own close after its end, or a second call go through at once.
    if (error !== undefined || socket.readableEnded || giveUp !== null) return destroy(error);
    giveUp = () => destroy();
    settle();
    return socket;
  };
  socket.once('close', () => {
    giveUp = null;
    if (idle) clearTimeout(idle);
  });
}

/** What the kernel still holds for the master side, read without waiting: it ends with EIO once all is read (EAGAIN: another process still has the terminal open). */
function readRest(fd: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let total = 0; total < DRAIN_MAX_BYTES; ) {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let read: number;
    try {
      read = readSync(fd, buffer);
    } catch {
      break;
    }
    if (read === 0) break;
    chunks.push(buffer.subarray(0, read));
    total += read;
  }
  return chunks;
}
