// Runs every test file under test/ with Node's built-in runner and tsx, since
// Node 20's --test does not expand globs or pick up .ts files by itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filter = process.argv.slice(2);
const files = findTests('test').sort().filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
const reporters = [
  '--test-reporter=tap',
  '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/failedTestsReporter.mjs',
  '--test-reporter-destination=stdout',
];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporters, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
