import { closeSync, openSync } from 'node:fs';
import { pino } from 'pino';
import { BerthError } from '../core/errors.js';

/** A log file the gateway owns: reopened after logrotate renamed it, closed at shutdown. */
export interface LogDestination {
  readonly stream: NodeJS.WritableStream;
  /** Opens the file again under its name (SIGHUP). */
  reopen(): void;
  /** Resolves once what is buffered is written and the file closed. */
  close(): Promise<void>;
}

/**
 * Appends to `path` (created 0600: the lines name users and addresses).
 * Writes are asynchronous and gather while one is under way, so a busy
 * access log costs one write call per batch, not per line. The file is
 * opened once here first, so a path that cannot be written stops the start
 * with a clear error instead of losing lines later. `key` names the setting
 * in that error; `onError` hears of writes that fail afterwards (disk full).
 */
export function fileDestination(path: string, key: string, onError: (err: NodeJS.ErrnoException) => void): LogDestination {
  try {
    closeSync(openSync(path, 'a', 0o600));
  } catch (err) {
    throw new BerthError({
      code: 'config_invalid',
      userMessage: `Cannot open ${key} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; create its directory or point ${key} at a writable file.`,
    });
  }
  const file = pino.destination({ dest: path, append: true, sync: false, mode: 0o600 });
  file.on('error', onError);
  let closed: Promise<void> | null = null;
  return {
    // SonicBoom is no full Writable, but a writer of lines is all that pino and the pretty printer ask of it.
    stream: file as unknown as NodeJS.WritableStream,
    reopen: () => file.reopen(),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        file.once('close', () => resolve());
        file.end();
      })),
  };
}
