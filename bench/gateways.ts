import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { compileEntries } from './lib/compile.js';
import { buildGateway, scriptRequest, startGateway, USER_HEADER } from './lib/gateway.js';
import { pickLoadTool, type LoadResult } from './lib/load.js';
import type { ServerProcess } from './lib/processes.js';
import { appendResult, printTable } from './lib/report.js';
import { DEBIAN, removeByPrefix } from '../test/helpers/docker.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { workersAnswering } from '../test/helpers/workers.js';

/**
 * npm run bench:gateways — the gateway on several processes of one host
 * (`berth serve --workers N`) and the cost of the shared store on the proxy
 * path, all against one berth on the Docker engine (a node:http server
 * answering a short body, the host's node binary mounted into the Debian
 * test image), in header mode:
 *
 * - requests per second of 1 gateway process against 2 and 4 workers behind
 *   the same port, on PostgreSQL (workers need it), best of BENCH_ROUNDS;
 * - p50/p99 at a fixed, moderate rate through one gateway on SQLite and one
 *   on PostgreSQL: the p99 the shared store adds to a ready berth's request;
 * - the store's transactions during each load (pg_stat_database.xact_commit),
 *   per 1000 requests: the target is none on the hot path; what remains is
 *   the background work (activity flush every 5 s, leader and notification
 *   heartbeats).
 *
 * The machine is shared: the load tool, the primary, the workers and the
 * berth all run on its cores, so N workers can at most use the cores the
 * others leave. Knobs: BENCH_SECONDS (5), BENCH_ROUNDS (2), BENCH_CONNECTIONS
 * (50), BENCH_RATE (500), BENCH_RATE_SECONDS (10), BENCH_LOAD_TOOL.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rate = Number(process.env.BENCH_RATE ?? 500);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const USER = 'bench';
const headers = { [USER_HEADER]: USER };
const NODE_IN_BERTH = '/opt/berth-bench/node';

interface Subject {
  name: string;
  workers: number;
  store: 'sqlite' | 'postgres';
}

const SUBJECTS: Subject[] = [
  { name: '1 gateway, sqlite', workers: 1, store: 'sqlite' },
  { name: '1 gateway, postgres', workers: 1, store: 'postgres' },
  { name: '2 workers, postgres', workers: 2, store: 'postgres' },
  { name: '4 workers, postgres', workers: 4, store: 'postgres' },
];

interface Running extends Subject {
  gateway: ServerProcess;
  prefix: string;
  database: string | null;
}

/** The committed transactions of `database` so far (PostgreSQL's statistics lag by up to a second: read after a pause). */
async function commits(url: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select xact_commit as n from pg_stat_database where datname = $1', [database]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

const tool = pickLoadTool();
const [fixedRate] = (await compileEntries(['bench/lib/fixedRate.ts'])) as [string];
const cli = await buildGateway();
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-gateways-'));
const cluster = await startPostgres();
const admin = `postgres://${cluster.user}@${cluster.host}:${cluster.port}/postgres`;
const running: Running[] = [];
try {
  const node = realpathSync(process.execPath);
  for (const [index, subject] of SUBJECTS.entries()) {
    const prefix = `b16wb${process.pid.toString(36)}${index}`;
    const url = subject.store === 'postgres' ? await cluster.freshDatabase() : null;
    const home = join(dir, String(index));
    mkdirSync(home);
    const gateway = await startGateway(cli, home, {
      workers: subject.workers,
      store: url === null ? { kind: 'sqlite' } : { kind: 'postgres', url },
      runtime: { kind: 'docker', docker: { namePrefix: prefix, network: `${prefix}-net`, reach: 'network', allowedMounts: [node] } },
      environment: {
        image: DEBIAN,
        mounts: [{ source: node, target: NODE_IN_BERTH, readOnly: true }],
        command: [NODE_IN_BERTH, '-e', "require('http').createServer((q,s)=>s.end('hello\\n')).listen(+process.env.PORT)"],
      },
    });
    running.push({ ...subject, gateway, prefix, database: url === null ? null : new URL(url).pathname.slice(1) });
    await workersAnswering(gateway.url, subject.workers, 120_000);
    const first = await scriptRequest(`${gateway.url}/`, USER);
    if (first.status !== 200) throw new Error(`${subject.name}: the first request got ${first.status}: ${first.body}`);
  }
  console.log(
    `bench:gateways — ${tool.name}, ${connections} keep-alive connections, best of ${rounds} × ${seconds} s; then ${rate} req/s for ${rateSeconds} s; ` +
      `${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (a shared machine)`,
  );

  const saturated: Record<string, LoadResult & { storeCommitsPer1000: number | null }> = {};
  for (let round = 0; round < rounds; round++) {
    // Interleaved, so a burst of other work on the machine spoils one round of each rather than every round of one.
    for (const subject of running) {
      const url = `${subject.gateway.url}/`;
      await tool.run(url, { connections, durationSeconds: 1, headers });
      const before = subject.database === null ? null : await commits(admin, subject.database);
      const result = await tool.run(url, { connections, durationSeconds: seconds, headers });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const after = subject.database === null ? null : await commits(admin, subject.database);
      // Minus the two reads of the counter themselves.
      const storeCommitsPer1000 = before === null || after === null ? null : (Math.max(0, after - before - 1) * 1000) / result.requests;
      const best = saturated[subject.name];
      if (best === undefined || result.requestsPerSecond > best.requestsPerSecond) saturated[subject.name] = { ...result, storeCommitsPer1000 };
    }
  }

  const paced: Record<string, { p50Ms: number; p99Ms: number; errors: number }> = {};
  for (const subject of running.filter((s) => s.workers === 1)) {
    const { stdout } = await promisify(execFile)(process.execPath, [fixedRate], {
      env: { ...process.env, URL: `${subject.gateway.url}/`, RATE: String(rate), SECONDS: String(rateSeconds), CONNECTIONS: '10', HEADERS: JSON.stringify(headers) },
      timeout: (rateSeconds + 30) * 1000,
    });
    paced[subject.name] = JSON.parse(stdout) as { p50Ms: number; p99Ms: number; errors: number };
  }

  const one = saturated['1 gateway, postgres']?.requestsPerSecond ?? 0;
  printTable([
    ['subject', 'req/s', 'vs 1 gateway', 'p50 ms', 'p99 ms', 'errors', 'store tx per 1000 req'],
    ...running.map(({ name }) => {
      const r = saturated[name] as LoadResult & { storeCommitsPer1000: number | null };
      return [name, r.requestsPerSecond.toFixed(0), one > 0 ? `${(r.requestsPerSecond / one).toFixed(2)}×` : '-', r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), String(r.errors), r.storeCommitsPer1000 === null ? '-' : r.storeCommitsPer1000.toFixed(2)];
    }),
  ]);
  const sqlite = paced['1 gateway, sqlite'];
  const postgres = paced['1 gateway, postgres'];
  if (sqlite && postgres) {
    console.log(`\nat ${rate} req/s: sqlite p50 ${sqlite.p50Ms.toFixed(2)} ms, p99 ${sqlite.p99Ms.toFixed(2)} ms; postgres p50 ${postgres.p50Ms.toFixed(2)} ms, p99 ${postgres.p99Ms.toFixed(2)} ms: the shared store adds ${(postgres.p99Ms - sqlite.p99Ms).toFixed(2)} ms at p99`);
  }
  const file = appendResult('gateways', { tool: tool.name, connections, seconds, rounds, rate, rateSeconds, saturated, paced });
  console.log(`\nrecorded in ${file}`);
} finally {
  for (const subject of running) {
    await subject.gateway.stop().catch(() => undefined);
    await removeByPrefix(subject.prefix, [`${subject.prefix}-net`]).catch(() => undefined);
  }
  cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
