import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { throttledLog, type ThrottledLog } from '../log/throttled.js';

/** Where the audit log's JSON lines go besides the store: a file (audit.file) or stdout (audit.stdout). */
export interface LineSink {
  write(line: string): void;
  /** Opens the file again under its name, for log rotation (SIGHUP); a no-op where there is no file. */
  reopen(): void;
  close(): Promise<void>;
}

/**
 * Appends lines to a file, created 0600 when missing. A rotated file
 * (renamed by logrotate) keeps receiving lines until reopen(), which the
 * operator's SIGHUP triggers. A write that fails (disk full, file removed
 * with its directory) is logged, rate-limited, and never reaches the caller.
 */
export class JsonLinesFile implements LineSink {
  private stream: WriteStream;
  private readonly problems: ThrottledLog;

  constructor(
    private readonly path: string,
    logger: Logger,
  ) {
    this.problems = throttledLog(logger, { burst: 1 });
    this.stream = this.open();
  }

  write(line: string): void {
    this.stream.write(line);
  }

  reopen(): void {
    const old = this.stream;
    this.stream = this.open();
    old.end();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  private open(): WriteStream {
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 });
    stream.on('error', (err: NodeJS.ErrnoException) =>
      this.problems.write('error', 'audit_file', { path: this.path, code: err.code, error: err.message }, 'cannot write the audit file (audit.file): check the path, its directory and free space'),
    );
    return stream;
  }
}

/** Lines on a stream the gateway does not own (stdout): never closed here. */
export function streamLines(stream: NodeJS.WritableStream): LineSink {
  return {
    write: (line) => void stream.write(line),
    reopen: () => undefined,
    close: async () => undefined,
  };
}

