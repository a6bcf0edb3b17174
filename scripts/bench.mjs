// npm run bench: runs every bench/*.ts entry that exists (one per figure), one
// after another so they never load the machine together; `npm run bench -- proxy
// spawn` runs only those. Each prints its table and appends to bench/results/.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const wanted = process.argv.slice(2);
const entries = readdirSync('bench')
  .filter((name) => name.endsWith('.ts'))
  .map((name) => name.slice(0, -'.ts'.length))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
const failed = [];
for (const name of entries) {
  console.log(`\n== bench:${name} ==`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { stdio: 'inherit' });
  if (result.status !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
