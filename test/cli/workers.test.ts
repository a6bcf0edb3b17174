import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { BUSYBOX, removeByPrefix, withEngine } from '../helpers/docker.js';
import { containersOf, HELLO_SERVER } from '../helpers/gatewaysOnPostgres.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { postgresForTests } from '../helpers/postgres.js';
import { processAlive } from '../helpers/processAlive.js';
import { berthServe, CLI, stopServe, type Served } from '../helpers/serve.js';
import { healthzWorker, workersAnswering } from '../helpers/workers.js';

/*
 * `berth serve --workers N` as an operator runs it: a real primary with its
 * workers on one HTTP and one SSH port, on a throwaway PostgreSQL and the
 * Docker engine; and the set-ups it refuses, before anything starts.
 */

const prefix = `b16w-${process.pid.toString(36)}`;
const as = (user: string) => ({ headers: { 'X-Forwarded-Preferred-Username': user }, timeoutMs: 60_000 });

function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** The SSH listener's first line on a fresh connection. */
function sshBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(15_000, () => socket.destroy(new Error('no SSH banner within 15 s')));
    socket.once('data', (chunk: Buffer) => {
      resolve(chunk.toString('latin1').split('\r\n')[0] ?? '');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** `berth serve` with these arguments and environment, expected to refuse to start: its exit code and what it printed. */
function refusedServe(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('berth serve --workers refuses what cannot share berths', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'b16w-refused-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const postgres = { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: 'null', BERTH_STORE_KIND: 'postgres', BERTH_STORE_URL: 'postgres://nobody@127.0.0.1:1/none' };
  /** A store that refuses connections: every worker fails to start, so the primary stops rather than restart them forever. */
  const noStore = {
    ...postgres,
    BERTH_LISTEN_HTTP: '127.0.0.1:0',
    // An engine that is not there only delays the berth network to the first start: the store is what fails.
    BERTH_RUNTIME_KIND: 'docker',
    BERTH_RUNTIME_DOCKER_SOCKET: `unix://${join(dataDir, 'no-engine.sock')}`,
  };

  it('refuses workers above 1 on SQLite or the local runtime, and a count below 1, naming the key and the fix', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ env: { BERTH_DATA_DIR: dataDir, ...env } });
        return '';
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems.join('\n');
      }
    };
    assert.match(problems({ BERTH_WORKERS: '3' }), /^workers: workers above 1 share berths through the store: set store\.kind: postgres/);
    assert.match(problems({ ...postgres, BERTH_WORKERS: '2' }), /^workers: workers above 1 need a runtime every worker sees \(docker or kubernetes\)/);
    assert.match(problems({ ...postgres, BERTH_RUNTIME_KIND: 'docker', BERTH_WORKERS: '0' }), /^workers: Too small/);
    assert.match(problems({ ...postgres, BERTH_RUNTIME_KIND: 'docker', BERTH_WORKERS: '1.5' }), /^workers: /);
    assert.equal(problems({ ...postgres, BERTH_RUNTIME_KIND: 'docker', BERTH_WORKERS: '2' }), '');
  });

  it('exits 1 from the command line: --workers on SQLite, --workers without a count, and workers none of which can start', async () => {
    const [sqlite, missing, storeRefused] = await Promise.all([
      refusedServe(['--workers', '2'], { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: 'null' }),
      refusedServe(['--workers'], {}),
      refusedServe(['--workers=2'], noStore),
    ]);
    assert.equal(sqlite.code, 1, sqlite.stderr);
    assert.match(sqlite.stderr, /workers: workers above 1 share berths through the store/);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /serve takes --workers N and --config FILE only/);
    assert.equal(storeRefused.code, 1, storeRefused.stderr);
    assert.match(storeRefused.stderr, /Cannot open the PostgreSQL store/);
    assert.match(storeRefused.stderr, /a gateway worker could not start \(exit code 1\); its error is printed above/);
  });

  it('writes the primary\'s own lines to log.file, where its workers write theirs', async () => {
    const logFile = join(dataDir, 'primary.log');
    const storeRefused = await refusedServe(['--workers=2'], { ...noStore, BERTH_LOG_FILE: logFile });
    assert.equal(storeRefused.code, 1, storeRefused.stderr);
    const primary = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { component?: string; msg?: string }).filter((line) => line.component === 'workers');
    assert.deepEqual(primary.slice(0, 3).map((line) => line.msg), ['starting 2 gateway workers on shared ports', 'a gateway worker could not start (exit code 1)', 'stopping the other workers']);
  });
});

const cluster = await postgresForTests('berth serve --workers');

if (cluster !== null) {
  await withEngine('berth serve --workers on docker', () =>
    describe('berth serve --workers 2 on one port, PostgreSQL and docker', { timeout: 240_000 }, () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'b16w-'));
      let env: Record<string, string>;
      let sshPort: number;
      let served: Served;
      let workers: Map<number, number>;

      before(async () => {
        sshPort = await freeLoopbackPort();
        env = {
          BERTH_DATA_DIR: dataDir,
          BERTH_LISTEN_SSH: `127.0.0.1:${sshPort}`,
          BERTH_LOG_LEVEL: 'info',
          BERTH_AUTH_MODE: 'header',
          BERTH_STORE_KIND: 'postgres',
          BERTH_STORE_URL: await cluster.freshDatabase(),
          BERTH_RUNTIME_KIND: 'docker',
          BERTH_RUNTIME_DOCKER_NAME_PREFIX: prefix,
          BERTH_RUNTIME_DOCKER_NETWORK: `${prefix}-net`,
          BERTH_ENVIRONMENT_IMAGE: BUSYBOX,
          BERTH_ENVIRONMENT_COMMAND: JSON.stringify(HELLO_SERVER),
          BERTH_SPAWN_STOP_GRACE_SECONDS: '1',
          BERTH_HTTP_DRAIN_SECONDS: '3',
        };
        served = await berthServe(['--workers', '2'], env, 120_000);
        workers = await workersAnswering(served.base, 2, 60_000);
      });

      after(async () => {
        if (served !== undefined) {
          for (const pid of workers?.keys() ?? []) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
          await stopServe(served, 'SIGKILL');
        }
        await removeByPrefix(prefix, [`${prefix}-net`]);
        rmSync(dataDir, { recursive: true, force: true });
      });

      it('answers on one HTTP port from two worker processes of the one it started, and on one SSH port', async () => {
        assert.equal(workers.size, 2);
        for (const pid of workers.keys()) assert.equal(parentOf(pid), served.child.pid, `worker ${pid} is a child of berth serve`);
        const banners = await Promise.all([1, 2, 3, 4].map(() => sshBanner(sshPort)));
        for (const banner of banners) assert.match(banner, /^SSH-2\.0-/);
      });

      it('starts one berth for a user however many first requests the two workers get at once', async () => {
        const replies = await Promise.all(Array.from({ length: 16 }, () => httpRequest(`${served.base}/`, as('ann'))));
        for (const reply of replies) {
          assert.equal(reply.status, 200, reply.body);
          assert.equal(reply.body, 'hello from ann\n');
        }
        assert.equal((await containersOf(prefix, 'ann')).length, 1);
      });

      it('starts another worker when one dies, and keeps serving meanwhile', async () => {
        const [killed] = [...workers.keys()];
        assert.ok(killed !== undefined);
        process.kill(killed, 'SIGKILL');
        const survivors = new Map(workers);
        survivors.delete(killed);
        // Once the primary knows (node:cluster loses a connection it hands to a worker at the moment it dies),
        // the survivor serves the ready berth while the new worker starts.
        await eventually(async () => (served.lines.some((l) => typeof l.msg === 'string' && /died \(signal SIGKILL\); starting another/.test(l.msg)) ? true : undefined), 10_000, 'the death to be logged');
        assert.equal((await httpRequest(`${served.base}/`, as('ann'))).body, 'hello from ann\n');
        const fresh = await eventually(
          async () => {
            const worker = await healthzWorker(served.base);
            return worker !== undefined && !workers.has(worker.pid) ? worker : undefined;
          },
          60_000,
          'a new worker to answer',
        );
        assert.equal(parentOf(fresh.pid), served.child.pid);
        assert.ok(fresh.id > Math.max(...workers.values()), 'a worker of its own, not the dead one back');
        workers = new Map([...survivors, [fresh.pid, fresh.id]]);
      });

      it('drains every worker on SIGTERM: readiness fails, requests are still served, then all exit and berth serve exits 0', async () => {
        const pids = [...workers.keys()].filter(processAlive);
        served.child.kill('SIGTERM');
        const draining = await eventually(
          () => httpRequest(`${served.base}/_berth/readyz`).then((r) => (r.status === 503 ? r.body : undefined), () => undefined),
          10_000,
          'readyz to fail while draining',
        );
        assert.match(draining, /draining/);
        assert.equal((await httpRequest(`${served.base}/`, as('ann'))).body, 'hello from ann\n', 'served while draining');
        assert.equal(await served.exited, 0, served.output());
        for (const pid of pids) assert.equal(processAlive(pid), false, `worker ${pid} has exited`);
        assert.equal(served.lines.filter((l) => l.msg === 'stopped').length, pids.length, 'each worker shut down in order');
        assert.ok(served.lines.some((l) => l.msg === 'every worker has stopped'));
      });
    }),
  );
}
