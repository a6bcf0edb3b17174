import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { httpRequest } from '../helpers/http.js';
import { berthServe, CLI, stopServe } from '../helpers/serve.js';

function berth(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
}

describe('berth command', () => {
  it('prints its version', () => {
    const run = berth(['--version']);
    assert.equal(run.status, 0);
    assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('config check prints the effective configuration with secrets masked', () => {
    const run = berth(['config', 'check'], { BERTH_AUTH_SESSION_SECRET: 's'.repeat(40) });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /listen:\n  http: 127\.0\.0\.1:8000/);
    assert.ok(!run.stdout.includes('s'.repeat(40)));
  });

  it('config check exits 1 naming each bad key', () => {
    const run = berth(['config', 'check'], { BERTH_LISTEN_HTTP: '127.0.0.1:70000', BERTH_SPAWN_CONCURRENCY: '0' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /listen\.http: expected "host:port"/);
    assert.match(run.stderr, /spawn\.concurrency: /);
  });

  it('serve refuses an impossible config with exit 1 before listening', () => {
    const run = berth(['serve'], { BERTH_LISTEN_HTTP: '127.0.0.1:70000' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /listen\.http/);
  });

  it('--help after a command prints the usage and exits 0 rather than running it', () => {
    for (const args of [['serve', '--help'], ['forward', '-h'], ['config', 'check', '--help']]) {
      const run = berth(args, { BERTH_LISTEN_HTTP: '127.0.0.1:70000' });
      assert.equal(run.status, 0, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /^berth: a gateway/);
      assert.match(run.stdout, /berth serve \[--workers N\] \[--config FILE\]/);
    }
  });

  it('config check tells a bare port and other YAML numbers where text is wanted apart', () => {
    const run = berth(['config', 'check'], { BERTH_LISTEN_HTTP: '8000', BERTH_ENVIRONMENT_IMAGE: '3.12' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /listen\.http: expected "host:port" .*e\.g\. "127\.0\.0\.1:8000"\n/);
    assert.match(run.stderr, /environment\.image: .*put the value in quotes/);
  });

  it('an unknown command prints the usage and exits 1', () => {
    const run = berth(['sail']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /unknown command: sail/);
    assert.match(run.stderr, /Usage:/);
  });

  it('serve stops its berths and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    const marker = `berth-cli-stop-${process.pid}`;
    const served = await berthServe([], {
      BERTH_DATA_DIR: dataDir,
      BERTH_LISTEN_SSH: 'null',
      BERTH_AUTH_MODE: 'header',
      // The marker names the berth's process on the host: in a sandbox its own pid is of its PID namespace.
      BERTH_ENVIRONMENT_COMMAND: `[${JSON.stringify(process.execPath)}, -e, "require('http').createServer((q,s)=>s.end(process.argv[1])).listen(+process.env.PORT,'127.0.0.1')", ${marker}]`,
    }, 20_000);
    try {
      const reply = await httpRequest(`${served.base}/`, { headers: { 'X-Forwarded-Preferred-Username': 'alice' } });
      assert.equal(reply.status, 200);
      assert.equal(reply.body, marker);
      const berthPids = processesNamed(marker);
      assert.ok(berthPids.length > 0, 'the berth process is found on the host');
      assert.equal(await stopServe(served, 'SIGTERM'), 0, served.output());
      assert.deepEqual(berthPids.filter(running), [], 'the berth process is gone');
    } finally {
      await stopServe(served, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Host pids of processes whose command line contains `text`, from /proc. */
function processesNamed(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * Whether `pid` still runs. An ended process whose parent ended first stays a
 * zombie until the machine's init reaps it (a sandbox's init, when bwrap's
 * monitor exits on its exit status); a zombie runs nothing.
 */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
