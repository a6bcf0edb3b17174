import type Docker from 'dockerode';
import { homeFileInTheWay, parentDirectories, type HomeFile } from '../../core/homeFiles.js';
import { tarOf, type TarEntry } from '../tarArchive.js';
import { unlessMissing } from './engineErrors.js';

/** Go's os.FileMode type bits, as the engine reports a path's mode: directory, link, and (all of them) ModeType. */
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_TYPE = MODE_DIR + MODE_SYMLINK + 2 ** 26 + 2 ** 25 + 2 ** 24 + 2 ** 21 + 2 ** 19;

/**
 * Writes `files` into the home of a created container that has not started
 * (so no process of the berth can race the checks): each path is first
 * looked at through the archive API's stat (HEAD), and a symbolic link, or a
 * non-directory where a directory must be, refuses the lot; then one archive
 * is unpacked at the home (PUT). No process runs in the container, and
 * copyUIDGID makes the container's own user the owner of what is made.
 */
export async function writeHomeFiles(container: Docker.Container, name: string, homePath: string, files: readonly HomeFile[]): Promise<void> {
  const missing = new Set<string>();
  const entries: TarEntry[] = [];
  const absent = (path: string) => missing.has(path.split('/').slice(0, -1).join('/'));
  for (const dir of parentDirectories(files)) {
    const mode = absent(dir) ? null : await modeOf(container, `${homePath}/${dir}`);
    if (mode === null) {
      missing.add(dir);
      entries.push({ kind: 'dir', path: dir, mode: 0o755 });
    } else if (mode & MODE_SYMLINK) throw homeFileInTheWay(name, dir, `the symbolic link ${dir}`);
    else if (!(mode & MODE_DIR)) throw homeFileInTheWay(name, dir, `the file ${dir}`);
  }
  for (const file of files) {
    const mode = absent(file.path) ? null : await modeOf(container, `${homePath}/${file.path}`);
    if (mode !== null && mode & MODE_SYMLINK) throw homeFileInTheWay(name, file.path, `the symbolic link ${file.path}`);
    if (mode !== null && mode & MODE_TYPE) throw homeFileInTheWay(name, file.path, `something other than a file at ${file.path}`);
    entries.push({ kind: 'file', path: file.path, mode: file.mode, content: file.content });
  }
  await container.putArchive(tarOf(entries), { path: homePath, copyUIDGID: true, noOverwriteDirNonDir: true });
}

/** The path's mode, not following a link at its end (the engine resolves links before it, inside the container); null when nothing is there. */
async function modeOf(container: Docker.Container, path: string): Promise<number | null> {
  type Answer = { headers: Record<string, string | string[] | undefined>; resume?: () => void };
  const answer = await unlessMissing(container.infoArchive({ path }) as unknown as Promise<Answer>);
  if (answer === null) return null;
  answer.resume?.();
  const header = answer.headers['x-docker-container-path-stat'];
  const stat = JSON.parse(Buffer.from(String(header), 'base64').toString('utf8')) as { mode: number; linkTarget?: string };
  return stat.linkTarget ? stat.mode | MODE_SYMLINK : stat.mode;
}
