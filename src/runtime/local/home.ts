import { mkdir, chmod } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { BerthError } from '../../core/errors.js';

/**
 * The berth's home: <dataDir>/homes/<safe name>, private to the gateway's
 * user and kept across stops. Safe names cannot hold "/" or "..", but the
 * check below does not rely on that: a name that would resolve anywhere but
 * to a direct child of homes/ named exactly `name` is refused.
 */
export async function prepareHome(dataDir: string, name: string): Promise<string> {
  const homes = resolve(dataDir, 'homes');
  const home = resolve(homes, name);
  if (dirname(home) !== homes || basename(home) !== name) {
    throw new BerthError({
      code: 'spawn_failed',
      userMessage: 'Your environment could not be prepared; tell the operator.',
      logMessage: `refusing home directory for berth name ${JSON.stringify(name)}: it resolves outside ${homes}`,
    });
  }
  await mkdir(homes, { recursive: true, mode: 0o700 });
  await mkdir(home, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone and applies the umask to a new one.
  await chmod(home, 0o700);
  return home;
}
