import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { homeFileInTheWay, parentDirectories, type HomeFile } from '../../core/homeFiles.js';

/**
 * Writes `files` into a local berth's home before its command starts: every
 * directory on the way and the file itself are looked at first (lstat), and
 * a symbolic link, or a non-directory where a directory must be, refuses the
 * lot before anything is written; the file is then opened with O_NOFOLLOW,
 * so a link made meanwhile fails the write rather than being followed.
 */
export async function writeHomeFiles(home: string, name: string, files: readonly HomeFile[]): Promise<void> {
  const missing: string[] = [];
  for (const dir of parentDirectories(files)) {
    const found = await kindOf(join(home, dir));
    if (found === null) missing.push(dir);
    else if (found === 'link') throw homeFileInTheWay(name, dir, `the symbolic link ${dir}`);
    else if (found !== 'dir') throw homeFileInTheWay(name, dir, `the file ${dir}`);
  }
  for (const file of files) {
    const found = await kindOf(join(home, file.path));
    if (found === 'link') throw homeFileInTheWay(name, file.path, `the symbolic link ${file.path}`);
    if (found !== null && found !== 'file') throw homeFileInTheWay(name, file.path, `something other than a file at ${file.path}`);
  }
  for (const dir of missing) await mkdir(join(home, dir), { mode: 0o755 });
  for (const file of files) {
    const handle = await open(join(home, file.path), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, file.mode);
    try {
      await handle.writeFile(file.content);
      await handle.chmod(file.mode);
    } finally {
      await handle.close();
    }
  }
}

async function kindOf(path: string): Promise<'dir' | 'file' | 'link' | 'other' | null> {
  try {
    const stat = await lstat(path);
    return stat.isSymbolicLink() ? 'link' : stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
