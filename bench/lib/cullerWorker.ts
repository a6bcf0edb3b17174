import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import type { Duplex } from 'node:stream';
import type { BerthSpec, ExecProcess, ListeningPort, Observed, Runtime } from '../../src/runtime/types.js';
import { Culler } from '../../src/spawner/culler.js';
import { Spawner } from '../../src/spawner/spawner.js';
import { Store } from '../../src/store/store.js';

/**
 * One idle-culling pass over BERTHS tracked berths, in a process of its own
 * from compiled code: the real Spawner, Culler and SQLite store over a runtime
 * that holds its berths in memory and stops them at once, so the CPU measured
 * is the gateway's own (an engine's work to stop a container is not).
 * Prints {"quietCpuMs", "cullCpuMs", "cullProcessCpuMs", "cullWallMs",
 * "stopped"} as JSON: the median of PASSES passes finding nothing idle, and
 * of passes stopping every one, after one untimed pass of each to warm up.
 * CPU is the event loop thread's (from /proc schedstat, in ns), the time a
 * pass takes from requests; the whole process's, which adds the engine's
 * background compiler and collector threads, is beside it.
 */
const berths = Number(process.env.BERTHS ?? 1000);
const passes = Number(process.env.PASSES ?? 5);

class MemoryRuntime implements Runtime {
  readonly kind = 'memory';
  readonly running = new Map<string, Observed>();

  constructor(users: readonly string[]) {
    for (const [index, user] of users.entries()) {
      const name = user;
      this.running.set(name, { name, user, state: 'running', id: `id-${index}`, exitCode: null, startedAt: Date.now(), finishedAt: null, specHash: null, image: null });
    }
  }

  async health(): Promise<void> {}
  async prepare(): Promise<void> {}
  isBerthAddress(): boolean {
    return false;
  }
  async ensure(spec: BerthSpec): Promise<Observed> {
    return this.inspect(spec.name);
  }
  async inspect(name: string): Promise<Observed> {
    return this.running.get(name) ?? { name, user: name, state: 'absent', id: null, exitCode: null, startedAt: null, finishedAt: null, specHash: null, image: null };
  }
  async stop(name: string): Promise<void> {
    this.running.delete(name);
  }
  async list(): Promise<Observed[]> {
    return [...this.running.values()];
  }
  async connect(): Promise<Duplex> {
    throw new Error('no connections in the culler bench');
  }
  async mainPort(): Promise<number> {
    return 9;
  }
  async logs(): Promise<string[]> {
    return [];
  }
  async listening(): Promise<ListeningPort[]> {
    return [];
  }
  async exec(): Promise<ExecProcess> {
    throw new Error('no exec in the culler bench');
  }
  onExit(): void {}
  async close(): Promise<void> {}
}

function processCpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * CPU time of the event loop thread so far, in ms. The kernel brings the
 * figure up to date when the thread sleeps, so this sleeps a moment first.
 */
async function loopCpuMs(): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-culler-'));
const { config } = loadConfig({ env: { BERTH_DATA_DIR: dataDir, BERTH_LOG_LEVEL: 'info' }, cwd: dataDir });
// Logged to /dev/null rather than silenced, so the pass pays for its log lines as in production.
const logger = createLogger(config.log.level, createWriteStream('/dev/null'));
const users = Array.from({ length: berths }, (_, i) => `user${i}`);
const store = await Store.open(dataDir);
const quiet: number[] = [];
const cull: number[] = [];
const cullProcess: number[] = [];
const wall: number[] = [];
let stopped = 0;
try {
  for (let pass = 0; pass <= passes; pass++) {
    const timed = pass > 0;
    const runtime = new MemoryRuntime(users);
    let spawner: Spawner | undefined;
    const metrics = new Metrics(() => spawner?.list() ?? []);
    spawner = new Spawner({ config, runtime, store, logger, metrics });
    if ((await spawner.adopt()) !== berths) throw new Error('the spawner did not adopt every berth');
    const culler = new Culler(spawner, config.idle, logger);
    const now = Date.now();

    let loopBefore = await loopCpuMs();
    if ((await culler.pass(now)).length !== 0) throw new Error('a pass with nothing idle stopped berths');
    if (timed) quiet.push((await loopCpuMs()) - loopBefore);

    // An hour and a bit later, every berth is idle.
    const later = now + (config.idle.stopAfterSeconds + 60) * 1000;
    loopBefore = await loopCpuMs();
    const before = process.cpuUsage();
    const started = performance.now();
    stopped = (await culler.pass(later)).length;
    const wallMs = performance.now() - started;
    // The events the stops record are written after the pass returns; they are its cost too.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (timed) {
      wall.push(wallMs);
      cull.push((await loopCpuMs()) - loopBefore);
      cullProcess.push(processCpuMs(before));
    }
    if (stopped !== berths || runtime.running.size !== 0) throw new Error(`the pass stopped ${stopped} of ${berths} berths`);
    await spawner.close({ stopBerths: false });
  }
  console.log(JSON.stringify({ quietCpuMs: median(quiet), cullCpuMs: median(cull), cullProcessCpuMs: median(cullProcess), cullWallMs: median(wall), stopped, passes }));
} finally {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
}
