import { posix } from 'node:path';
import { BerthError } from './errors.js';

/** A file to write into a berth's home before it starts (a config webhook's `files`). */
export interface HomeFile {
  /** Relative to the home, normalised: no "", "." or ".." component, no leading "/". */
  path: string;
  content: Buffer;
  /** 0600 for a value the webhook marks sensitive, else 0644. */
  mode: number;
}

/** Caps that keep a webhook's answer from filling a home or the gateway's memory. */
export const HOME_FILE_LIMITS = { count: 64, fileBytes: 1024 * 1024, totalBytes: 4 * 1024 * 1024, pathBytes: 1024 } as const;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Reads ContainerSSH's `files` metadata ({path: {value: base64, sensitive}})
 * into files confined to the home at `homePath`: a path is relative to the
 * home or absolute inside it; one that climbs out ("..", an absolute path
 * elsewhere), holds a NUL, or whose value is not base64 is refused, as is an
 * answer past the caps. Every reason is listed, so the refusal says all.
 * Symbolic links already in the home are the writer's to refuse (they are
 * only seen there).
 */
export function homeFilesOf(raw: Record<string, unknown>, homePath: string): { files: HomeFile[] } | { refused: string[] } {
  const refused: string[] = [];
  const files: HomeFile[] = [];
  const entries = Object.entries(raw);
  if (entries.length > HOME_FILE_LIMITS.count) refused.push(`${entries.length} files (at most ${HOME_FILE_LIMITS.count})`);
  let total = 0;
  for (const [given, value] of entries) {
    const path = confinedPath(given, homePath);
    if (path === null) {
      refused.push(`a file outside the home (${JSON.stringify(given.slice(0, 200))})`);
      continue;
    }
    const { value: encoded, sensitive } = (typeof value === 'object' && value !== null ? value : {}) as { value?: unknown; sensitive?: unknown };
    if (typeof encoded !== 'string' || !BASE64.test(encoded)) {
      refused.push(`a file whose value is not base64 (${path})`);
      continue;
    }
    const content = Buffer.from(encoded, 'base64');
    if (content.length > HOME_FILE_LIMITS.fileBytes) refused.push(`a file larger than ${HOME_FILE_LIMITS.fileBytes} bytes (${path})`);
    total += content.length;
    files.push({ path, content, mode: sensitive === true ? 0o600 : 0o644 });
  }
  if (total > HOME_FILE_LIMITS.totalBytes) refused.push(`files of ${total} bytes in all (at most ${HOME_FILE_LIMITS.totalBytes})`);
  refused.push(...clashes(files));
  return refused.length > 0 ? { refused } : { files };
}

/**
 * Files no writer could make together: one path given twice (relative and
 * absolute), or a file where another needs a directory ("a" and "a/b").
 * Refused up front, so every runtime answers alike and none writes half.
 */
function clashes(files: readonly HomeFile[]): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const { path } of files) {
    if (seen.has(path)) found.push(`one file given twice (${path})`);
    seen.add(path);
  }
  for (const dir of parentDirectories(files)) if (seen.has(dir)) found.push(`a file that is also the directory of another (${dir})`);
  return found;
}

/** The path relative to the home, or null when it is not plainly inside it. ".." is refused, not resolved, so no spelling climbs out. */
function confinedPath(given: string, homePath: string): string | null {
  if (given === '' || given.includes('\0') || Buffer.byteLength(given) > HOME_FILE_LIMITS.pathBytes) return null;
  let relative = given;
  if (given.startsWith('/')) {
    const home = posix.normalize(homePath).replace(/\/+$/, '');
    if (!given.startsWith(`${home}/`)) return null;
    relative = given.slice(home.length + 1);
  }
  const parts = relative.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) return null;
  return parts.join('/');
}

/** The directories a set of files sits in, parents first, each once: what a writer must find or make. */
export function parentDirectories(files: readonly HomeFile[]): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs].sort((a, b) => a.split('/').length - b.split('/').length);
}

/**
 * Why a file was not written, in the words of both readers: the home holds
 * something in its way (a symbolic link, which is never followed, or a file
 * where a directory must be). Nothing of the answer is written then.
 */
export function homeFileInTheWay(name: string, path: string, found: string): BerthError {
  return new BerthError({
    code: 'forbidden',
    userMessage: `Your environment was not started: the configuration service gives it the file ${path}, but ${found} in your home is in its way (links are never followed). Move it aside and start again.`,
    logMessage: `berth ${name}: not writing the config webhook's files: ${found} is in the way of ${path}`,
  });
}

/** The refusal of a runtime that has no way to write files into a home (attach: the container is someone else's). */
export function homeFilesUnsupported(name: string, runtime: string): BerthError {
  return new BerthError({
    code: 'forbidden',
    userMessage: `Your environment was not started: the configuration service gives it files, which the ${runtime} runtime cannot write. Ask the operator to drop "files" from the configuration service's answer.`,
    logMessage: `berth ${name}: the config webhook answered files, which runtime ${runtime} does not write`,
  });
}
