import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Inside the checkout, so the compiled files find the project's packages by
 * walking up to its node_modules, yet not inside node_modules, which a
 * worktree may share with other checkouts of other code. Git-ignored.
 */
const OUT_DIR = resolve('bench/.build');

/**
 * Compiles entry points (and what they import) with tsc, as `npm run build`
 * does for the gateway, and returns the paths of the compiled entries. Benches
 * run compiled code because tsx's transform adds work per function created
 * (it keeps function names), which would be charged to the code under test.
 */
export async function compileEntries(entries: readonly string[]): Promise<string[]> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await run(
    process.execPath,
    [tsc, '--outDir', OUT_DIR, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--noCheck', ...entries],
    { timeout: 120_000 },
  );
  return entries.map((entry) => join(OUT_DIR, entry.replace(/\.ts$/, '.js')));
}
