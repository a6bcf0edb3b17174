import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compileEntries } from './lib/compile.js';
import { appendResult, printTable } from './lib/report.js';

/**
 * npm run bench:culler — the CPU time of one idle-culling pass with 1,000
 * berths tracked (BENCH_BERTHS), the real Spawner, Culler and SQLite store
 * over an in-memory runtime (bench/lib/cullerWorker.ts): a pass that finds
 * nothing idle, as most do, and one that stops every berth. Median of
 * BENCH_PASSES (5). CPU time of the event loop thread, not wall time, is the
 * figure: it is what a pass takes from requests, and what a shared machine
 * disturbs least; the whole process's CPU is beside it.
 */
const berths = Number(process.env.BENCH_BERTHS ?? 1000);
const passes = Number(process.env.BENCH_PASSES ?? 5);
const TARGET_MS = 50;

const [worker] = (await compileEntries(['bench/lib/cullerWorker.ts'])) as [string];
const { stdout } = await promisify(execFile)(process.execPath, [worker], {
  env: { ...process.env, BERTHS: String(berths), PASSES: String(passes) },
  timeout: 120_000,
});
const result = JSON.parse(stdout) as { quietCpuMs: number; cullCpuMs: number; cullProcessCpuMs: number; cullWallMs: number; stopped: number };
console.log(`bench:culler — ${berths} berths tracked, median of ${passes} passes, ${process.version}`);
printTable([
  ['pass', 'CPU ms', 'process CPU ms', 'wall ms', 'stopped', `target < ${TARGET_MS} ms CPU`],
  ['nothing idle', result.quietCpuMs.toFixed(2), '-', '-', '0', result.quietCpuMs < TARGET_MS ? 'met' : 'missed'],
  [
    'all idle',
    result.cullCpuMs.toFixed(2),
    result.cullProcessCpuMs.toFixed(2),
    result.cullWallMs.toFixed(2),
    String(result.stopped),
    result.cullCpuMs < TARGET_MS ? 'met' : 'missed',
  ],
]);
console.log(`appended to ${appendResult('culler', { berths, passes, ...result })}`);
