import { mkdirSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, storageFailure } from '../core/errors.js';

/** Creates the data directory (0700) if needed, or says in one line why it cannot, rather than with a stack trace. */
export function ensureDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw (
      storageFailure(err, dataDir) ??
      new BerthError({
        code: 'config_invalid',
        userMessage: `Berth cannot create its data directory ${dataDir} (${code}); create it, make it writable, or set dataDir to another place.`,
        logMessage: `mkdir ${dataDir}: ${(err as Error).message}`,
        cause: err,
      })
    );
  }
}

export interface DataDirProblem {
  path: string;
  /** "ENOSPC: no space left on device, write": the code and the system's words. */
  error: string;
}

/** One block, so a disk with no room left for data fails the probe as it fails the database. */
const PROBE = Buffer.alloc(4096);
/** /_berth/healthz is public: however often it is asked, the disk is written at most this often. */
const CACHE_MS = 2_000;

/**
 * Whether the data directory can be written, by writing, syncing and removing
 * a small file there: a full, read-only or failing disk shows in
 * /_berth/healthz instead of as one failed write after another.
 */
export class DataDirHealth {
  private last: { at: number; result: Promise<DataDirProblem | null> } | undefined;

  constructor(private readonly dataDir: string) {}

  check(): Promise<DataDirProblem | null> {
    const now = Date.now();
    if (this.last === undefined || now - this.last.at >= CACHE_MS) this.last = { at: now, result: this.probe() };
    return this.last.result;
  }

  private async probe(): Promise<DataDirProblem | null> {
    const path = join(this.dataDir, `.healthz-${process.pid}`);
    try {
      const file = await open(path, 'w', 0o600);
      try {
        await file.write(PROBE);
        await file.sync();
      } finally {
        await file.close();
      }
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { path: this.dataDir, error: `${code === undefined ? '' : `${code}: `}${(err as Error).message}` };
    } finally {
      await unlink(path).catch(() => undefined);
    }
  }
}
