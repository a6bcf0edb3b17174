import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Peers the benches measure against are installed by the benches themselves,
 * never as project dependencies: Debian packages with apt-get (as root), npm
 * packages into bench/.peers (git-ignored). BENCH_INSTALL=0 forbids both.
 */
const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.peers');

export function hasCommand(command: string, probe: readonly string[] = ['-v']): boolean {
  return spawnSync(command, probe, { stdio: 'ignore' }).error === undefined;
}

function mayInstall(): boolean {
  return process.env.BENCH_INSTALL !== '0';
}

/** Installs a Debian package unless `command` is already there; true when it is there afterwards. */
export function ensureDebian(pkg: string, command: string, probe: readonly string[] = ['-v']): boolean {
  if (hasCommand(command, probe)) return true;
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !mayInstall()) return false;
  console.error(`bench: ${command} is missing; installing ${pkg} with apt-get (BENCH_INSTALL=0 to skip)`);
  const apt = (args: string[]): boolean =>
    spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  // A fresh machine has no package lists yet; update only when the first try shows it is needed.
  return (apt(['install', '-y', '-qq', pkg]) || (apt(['update', '-qq']) && apt(['install', '-y', '-qq', pkg]))) && hasCommand(command, probe);
}

/**
 * The path of an npm package's executable, installed into bench/.peers on
 * first use (pinned to `spec`), or null when it is missing and may not be
 * installed.
 */
export function ensureNpmPeer(spec: string, bin: string): string | null {
  const path = join(PEERS_DIR, 'node_modules', '.bin', bin);
  if (existsSync(path)) return path;
  if (!mayInstall()) return null;
  console.error(`bench: installing ${spec} into ${PEERS_DIR} (BENCH_INSTALL=0 to skip)`);
  const result = spawnSync('npm', ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund', '--loglevel=error', spec], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 300_000,
  });
  return result.status === 0 && existsSync(path) ? path : null;
}
