import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';

/*
 * A throwaway PostgreSQL cluster for one test file: initdb and pg_ctl from
 * Debian's packages in a temporary directory, on a free loopback port, as
 * the unprivileged `postgres` user when the tests run as root (PostgreSQL
 * refuses to run as root). Without PostgreSQL the tests skip on a laptop and
 * fail in CI (CI=true), where .ci/run installs it.
 */

export interface PostgresCluster {
  /** postgres://… of a new, empty database on the cluster. */
  freshDatabase(): Promise<string>;
  /** Where it listens and as whom to connect, for libpq's PGHOST, PGPORT and PGUSER. */
  host: string;
  port: number;
  user: string;
  /** Stops the server as a crash would (immediate shutdown), keeping its data; up() starts it again on the same port. */
  down(): void;
  up(): void;
  stop(): void;
}

/** The newest Debian PostgreSQL's bin directory, or null. */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(root, versions[0], 'bin');
}

/** The account the cluster runs as: `postgres` for root, else whoever runs the tests. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()));
  return { uid: uid as number, gid: gid as number };
}

let counter = 0;

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = postgresBin();
  if (bin === null) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); install it with: bash .ci/run system');
  const owner = clusterOwner();
  const dir = mkdtempSync(join(tmpdir(), 'berth-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const user = 'berth';
  const port = await freeLoopbackPort();
  const run = (tool: string, args: string[]) => execFileSync(join(bin, tool), args, { ...owner, cwd: dir, stdio: 'pipe' });
  run('initdb', ['-D', data, '-U', user, '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  // Sockets in the temporary directory, TCP on loopback only; no fsync: the cluster dies with the run.
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  start();
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user,
    async freshDatabase() {
      const name = `t${process.pid}_${++counter}`;
      const client = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres' });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://${user}@127.0.0.1:${port}/${name}`;
    },
    down() {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    up() {
      start();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already down (a test's down() without up()): only the directory is left to remove.
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The file's cluster, started once and stopped after its tests; null (with a
 * test that skips, or fails in CI) when PostgreSQL is not installed.
 */
export async function postgresForTests(what: string): Promise<PostgresCluster | null> {
  if (postgresBin() === null) {
    const missing = 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); install it with: bash .ci/run system';
    if (process.env.CI === 'true') test(`${what}: PostgreSQL is there (CI)`, () => assert.fail(missing));
    else test(`${what} on PostgreSQL`, { skip: missing }, () => undefined);
    return null;
  }
  const cluster = await startPostgres();
  after(() => cluster.stop());
  process.on('exit', () => cluster.stop());
  return cluster;
}
