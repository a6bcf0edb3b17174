import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import { DataDirHealth } from '../../store/dataDir.js';
import { fail, ok, type CheckResult } from './types.js';

const CHECK = 'data-dir';

/** Whether dataDir can be written, by writing there as /_berth/healthz does; a directory not made yet must be creatable. */
export async function dataDirCheck(config: Config): Promise<CheckResult> {
  const dir = resolve(config.dataDir);
  const fix = `make ${dir} writable by the gateway's user (chown <user> ${dir}), free space on its disk, or set dataDir (BERTH_DATA_DIR) to another place`;
  const exists = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!exists) {
    const parent = await nearestExisting(dir);
    try {
      await access(parent, constants.W_OK | constants.X_OK);
      return ok(CHECK, `${dir} does not exist yet; the gateway will create it in ${parent}`);
    } catch {
      return fail(CHECK, `${dir} does not exist, and this user may not create it in ${parent}`, fix);
    }
  }
  const problem = await new DataDirHealth(dir).check();
  if (problem === null) return ok(CHECK, `${dir} is writable`);
  return fail(CHECK, `${dir} cannot be written: ${problem.error}`, fix);
}

async function nearestExisting(path: string): Promise<string> {
  let current = dirname(path);
  while (!(await stat(current).then(() => true, () => false)) && current !== dirname(current)) current = dirname(current);
  return current;
}
