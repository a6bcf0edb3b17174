import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One path hidden from a sandboxed berth: a directory behind an empty tmpfs, a file behind /dev/null. */
export interface Mask {
  path: string;
  kind: 'dir' | 'file';
}

/**
 * What a sandboxed berth must not see, beyond what bwrap's own namespaces
 * hide: the gateway's data (session key, host keys, database, every home),
 * the files its configuration names, its install directory, and /run, where
 * sockets such as the Docker engine's live (connecting to a Unix socket needs
 * no write access to the file system, so a read-only view is not enough).
 * Then what the berth may see again, read-only, inside those masks: the node
 * binary's install prefix and the default command's files (the demo app runs
 * from the gateway's install directory).
 */
export interface SandboxLayout {
  masks: Mask[];
  reveals: string[];
}

export interface LayoutInput {
  dataDir: string;
  /** Files and directories of the gateway's configuration (its config file, secret files); missing ones are skipped. */
  gatewayFiles: readonly string[];
  /** argv of the default command: absolute paths (and file: URLs) in it under a mask are shown again. */
  defaultCommand: readonly string[];
}

/** Paths that hold the host's system: never masked whole, since the berth runs programs from them. */
const SYSTEM = new Set(['/', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/var', '/opt', '/home', '/root', '/tmp', '/srv']);

export function sandboxLayout(input: LayoutInput): SandboxLayout {
  const candidates = [input.dataDir, ...input.gatewayFiles, installDir() ?? '/run', '/run', '/var/run'];
  const masks: Mask[] = [];
  for (const candidate of candidates) {
    const path = existingReal(candidate);
    if (path === null || (SYSTEM.has(path) && path !== '/run')) continue;
    masks.push({ path, kind: statSync(path).isDirectory() ? 'dir' : 'file' });
  }
  const distinct = masks.filter((m, i) => masks.findIndex((other) => other.path === m.path) === i);
  const unique = distinct.filter((m) => !distinct.some((other) => other !== m && other.kind === 'dir' && within(m.path, other.path)));
  const needed = [dirname(dirname(process.execPath)), ...input.defaultCommand.flatMap(commandPaths)];
  const reveals = new Set<string>();
  for (const path of needed) {
    const real = existingReal(path);
    if (real !== null && unique.some((m) => m.kind === 'dir' && within(real, m.path))) reveals.add(real);
  }
  // The default command's own package needs its manifest (ESM "type") and dependencies.
  const root = installDir();
  if (root !== null && [...reveals].some((path) => within(path, root))) {
    for (const name of ['package.json', 'node_modules']) {
      const path = join(root, name);
      if (existsSync(path)) reveals.add(path);
    }
  }
  return { masks: unique, reveals: [...reveals].sort() };
}

/** `inner` is `outer` or lies under it. */
export function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === sep ? sep : `${outer}${sep}`);
}

function existingReal(path: string): string | null {
  try {
    return realpathSync(resolve(path));
  } catch {
    return null;
  }
}

/** An argument's absolute path (a file: URL counts), with its directory: a script imports its neighbours. */
function commandPaths(arg: string): string[] {
  const path = arg.startsWith('file:') ? fileURLToPath(arg) : arg;
  if (!path.startsWith('/')) return [];
  return [existsSync(path) && !statSync(path).isDirectory() ? dirname(path) : path];
}

/** The directory of the gateway's own package (this file is inside it, as source or compiled). */
function installDir(): string | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    try {
      if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'berth') return existingReal(dir);
    } catch {
      // an unreadable manifest is not ours; keep looking up
    }
  }
  return null;
}
