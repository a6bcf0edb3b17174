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
 * binary's install prefix, and per berth its command's own files
 * (revealsFor: the demo app runs from the gateway's install directory).
 */
export interface SandboxLayout {
  masks: Mask[];
  reveals: string[];
  dataDir: string;
  installDir: string | null;
}

export interface LayoutInput {
  dataDir: string;
  /** Files and directories of the gateway's configuration (its config file, secret files); missing ones are skipped. */
  gatewayFiles: readonly string[];
}

/** Paths that hold the host's system: never masked whole, since the berth runs programs from them. */
const SYSTEM = new Set(['/', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/var', '/opt', '/home', '/root', '/tmp', '/srv']);

export function sandboxLayout(input: LayoutInput): SandboxLayout {
  const dataDir = existingReal(input.dataDir) ?? resolve(input.dataDir);
  const install = installDir();
  const masks: Mask[] = [];
  for (const candidate of [dataDir, ...input.gatewayFiles, ...(install === null ? [] : [install]), '/run', '/var/run']) {
    const path = existingReal(candidate);
    if (path === null || SYSTEM.has(path)) continue;
    masks.push({ path, kind: statSync(path).isDirectory() ? 'dir' : 'file' });
  }
  const distinct = masks.filter((m, i) => masks.findIndex((other) => other.path === m.path) === i);
  const unique = distinct.filter((m) => !distinct.some((other) => other !== m && other.kind === 'dir' && within(m.path, other.path)));
  const layout: SandboxLayout = { masks: unique, reveals: [], dataDir, installDir: install };
  layout.reveals = masked(layout, [dirname(dirname(process.execPath))]);
  return layout;
}

/**
 * What a berth's command needs to see again: every absolute path in its argv
 * (a file: URL counts) that a mask hides, by its directory since a script
 * imports its neighbours; under the gateway's install directory also the
 * package manifest (ESM "type") and node_modules. Nothing in dataDir is ever
 * shown again: the session key lives there.
 */
export function revealsFor(layout: SandboxLayout, argv: readonly string[]): string[] {
  const wanted = masked(layout, argv.flatMap(commandPaths)).filter((path) => !within(path, layout.dataDir));
  const root = layout.installDir;
  if (root !== null && wanted.some((path) => within(path, root))) {
    for (const name of ['package.json', 'node_modules']) {
      const path = join(root, name);
      if (existsSync(path)) wanted.push(path);
    }
  }
  return [...new Set([...layout.reveals, ...wanted])].sort();
}

/** The ones of `paths` that exist and lie under a masked directory, resolved. */
function masked(layout: SandboxLayout, paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    const real = existingReal(path);
    return real !== null && layout.masks.some((m) => m.kind === 'dir' && within(real, m.path)) ? [real] : [];
  });
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
