import { posix } from 'node:path';

/**
 * The one rule for extra mounts, whoever asks (the template, a profile, a
 * config webhook): a host path is allowed when it is, or lies under, an
 * allowed path; anything else (a volume, "pvc/<claim>") when it is listed as
 * it is. `..` cannot climb out: paths are normalised first.
 */
export function mountSourceAllowed(source: string, allowed: readonly string[]): boolean {
  if (!source.startsWith('/')) return allowed.includes(source);
  const path = posix.normalize(source);
  return allowed.some((entry) => {
    if (!entry.startsWith('/')) return false;
    const base = posix.normalize(entry).replace(/\/+$/, '');
    return path === base || path.startsWith(`${base}/`);
  });
}
