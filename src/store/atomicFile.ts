import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a file the gateway makes once (session key, host keys) so that it is
 * either absent or whole, whatever happens meanwhile: a crash, a full disk
 * (ENOSPC) or a second gateway starting on the same directory. The content
 * goes to a temporary file that is fsync'ed, then linked to its name, which
 * fails if the name exists (never overwriting another gateway's key; with
 * `replace`, it is renamed over instead), then the directory is fsync'ed so the
 * name survives a power cut. Returns false when the file existed already.
 */
export function writeFileAtomically(path: string, data: string, options: { mode: number; replace?: boolean }): boolean {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', options.mode);
  try {
    try {
      const bytes = Buffer.from(data);
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!place(temp, path, options.replace === true)) return false;
  } finally {
    // After link the temporary name is a second name of the file; after a failure it is a partial file.
    if (existsSync(temp)) unlinkSync(temp);
  }
  syncDirectory(dirname(path));
  return true;
}

function place(temp: string, path: string, replace: boolean): boolean {
  if (replace) {
    renameSync(temp, path);
    return true;
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links: rename, after a check that leaves a small race but no partial file.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if (existsSync(path)) return false;
    renameSync(temp, path);
    return true;
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
