import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { writeFileAtomically } from '../../src/store/atomicFile.js';
import { freeLoopbackPort } from '../../src/runtime/local/freePort.js';
import { eventually, httpRequest } from '../helpers/http.js';
import { berthServe, CLI, stopServe, type Served } from '../helpers/serve.js';

/** A small tmpfs of its own, so the test can fill a disk without touching the machine's. */
function mountTmpfs(size: string): { dir: string; unmount(): void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'berth-diskfull-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]).status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return {
    dir,
    unmount() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Mounting needs root (CI runs as root); elsewhere the file says plainly why it did not run.
const probe = mountTmpfs('64k');
probe?.unmount();
const skip = probe === null ? 'mounting a tmpfs is not permitted here (needs root, as in CI)' : false;

/** Fills the file system under `dir` to the last byte, then gives `leave` bytes back. Returns the filler's path. */
function fill(dir: string, leave: number): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  let size = 0;
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) size += writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  ftruncateSync(fd, Math.max(0, size - leave));
  closeSync(fd);
  return path;
}

function gatewayEnv(dataDir: string): Record<string, string> {
  return { BERTH_DATA_DIR: dataDir, BERTH_LISTEN_SSH: '127.0.0.1:0', BERTH_AUTH_MODE: 'header' };
}

/** `berth serve` until it answers /_berth/healthz (then killed, as a crash would) or exits by itself. */
async function startOnce(env: Record<string, string>): Promise<{ started: boolean; output: string }> {
  const listen = `127.0.0.1:${await freeLoopbackPort()}`;
  const child = spawn(process.execPath, [...CLI, 'serve'], { env: { ...process.env, ...env, BERTH_LISTEN_HTTP: listen }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  const started = await eventually(
    async () => {
      if (done) return false;
      const reply = await httpRequest(`http://${listen}/_berth/healthz`).catch(() => null);
      return reply?.status === 200 ? true : undefined;
    },
    30_000,
    'berth serve to answer or exit',
  );
  child.kill('SIGKILL');
  await exited;
  return { started, output };
}

describe('disk full: a first start on a full disk never bricks later starts', { skip }, () => {
  // Room left when the gateway first starts: none, a few blocks (the session key fits, the database does not), more.
  for (const leave of [0, 16 * 1024, 120 * 1024]) {
    it(`starts cleanly once space is back, after a first start with ${leave} bytes free`, async () => {
      const fs = mountTmpfs('1m');
      assert.ok(fs);
      try {
        const dataDir = join(fs.dir, 'data');
        const filler = fill(fs.dir, leave);
        const first = await startOnce(gatewayEnv(dataDir));
        if (!first.started) {
          // SQLite reports a full disk as SQLITE_FULL, or as an I/O error when its shared-memory file cannot grow.
          assert.match(first.output, /Berth cannot write \S+?:? (no space is left )?\((ENOSPC|SQLITE_FULL|SQLITE_IOERR\w*)\)/, first.output);
          assert.doesNotMatch(first.output, /cannot rollback|    at /, 'the real error, no rollback error or stack trace');
        }
        // Whatever the first start got to, nothing it left is empty or cut short.
        for (const file of ['session.key', 'ssh/ssh_host_ed25519_key', 'ssh/ssh_host_rsa_key']) {
          const path = join(dataDir, file);
          const size = (() => {
            try {
              return statSync(path).size;
            } catch {
              return null;
            }
          })();
          assert.ok(size === null || size > 0, `${file} is absent or whole, not empty`);
        }
        assert.deepEqual(readdirSafe(dataDir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
        rmSync(filler);
        const second = await startOnce(gatewayEnv(dataDir));
        assert.equal(second.started, true, second.output);
        assert.match(readFileSync(join(dataDir, 'session.key'), 'utf8'), /^[0-9a-f]{64}\n$/);
        for (const key of ['ssh_host_ed25519_key', 'ssh_host_rsa_key']) {
          assert.ok(!(ssh2.utils.parseKey(readFileSync(join(dataDir, 'ssh', key), 'utf8')) instanceof Error), key);
        }
      } finally {
        fs.unmount();
      }
    });
  }
});

function readdirSafe(dir: string): string[] {
  try {
    return [...readdirSync(dir), ...readdirSync(join(dir, 'ssh')).map((f) => `ssh/${f}`)];
  } catch {
    return [];
  }
}

describe('disk full: a running gateway reports it and answers 507, and recovers', { skip }, () => {
  let fs: NonNullable<ReturnType<typeof mountTmpfs>>;
  let gw: Served;
  let dataDir: string;
  const alice = { 'X-Forwarded-Preferred-Username': 'alice', origin: 'http://127.0.0.1:8000', 'content-type': 'application/json' };
  const newToken = () => httpRequest(`${gw.base}/_berth/api/me/tokens`, { method: 'POST', headers: alice, body: JSON.stringify({ scopes: ['api'], expiresInSeconds: null, name: 'n'.repeat(60) }) });
  const health = async () => {
    const reply = await httpRequest(`${gw.base}/_berth/healthz`);
    return { status: reply.status, body: JSON.parse(reply.body) as { status: string; reason?: string; dataDir?: { path: string; error: string } } };
  };

  before(async () => {
    fs = mountTmpfs('2m') as NonNullable<ReturnType<typeof mountTmpfs>>;
    dataDir = join(fs.dir, 'data');
    gw = await berthServe([], { ...gatewayEnv(dataDir), BERTH_LISTEN_SSH: 'null' });
  });
  after(async () => {
    await stopServe(gw, 'SIGKILL');
    fs.unmount();
  });

  it('says so in /_berth/healthz (503 degraded, naming the path and the error) and answers failing writes with 507', async () => {
    assert.equal((await newToken()).status, 201);
    const filler = fill(fs.dir, 0);
    try {
      await fullDisk();
    } finally {
      rmSync(filler);
    }
    await eventually(async () => ((await health()).status === 200 ? true : undefined), 30_000, 'healthz to recover');
    assert.equal((await newToken()).status, 201);
  });

  async function fullDisk(): Promise<void> {
    const degraded = await eventually(async () => {
      const h = await health();
      return h.status === 503 ? h : undefined;
    }, 30_000, 'healthz to report the full disk');
    assert.equal(degraded.body.status, 'degraded');
    assert.equal(degraded.body.dataDir?.path, dataDir);
    assert.match(degraded.body.dataDir?.error ?? '', /^ENOSPC: /);
    assert.match(degraded.body.reason ?? '', new RegExp(`The data directory ${dataDir} cannot be written`));

    let failed: Awaited<ReturnType<typeof newToken>> | undefined;
    // A few rows may still fit in pages SQLite holds already; the disk is full for the next ones.
    for (let i = 0; i < 20 && failed === undefined; i++) {
      const reply = await newToken();
      if (reply.status !== 201) failed = reply;
    }
    assert.ok(failed, 'a write failed');
    assert.equal(failed.status, 507, failed.body);
    assert.match(failed.body, /"code":"storage_full"/);
    assert.match(failed.body, /no space is left \(SQLITE_FULL\)/);
    const logged = await eventually(async () => gw.lines.find((l) => l.code === 'storage_full'), 10_000, 'the refusal in the log');
    assert.equal(logged.level, 50);
    assert.match(String(logged.detail), /SQLITE_FULL: database or disk is full/);
    assert.equal(gw.lines.some((l) => JSON.stringify(l).includes('cannot rollback')), false, 'the real error, never a rollback error');
  }

  it('says so when the data directory turns read-only, and a start there says why it cannot', async () => {
    // A read-only bind mount over the data directory: what the gateway opens from now on cannot be written.
    assert.equal(spawnSync('mount', ['--bind', dataDir, dataDir]).status, 0);
    try {
      assert.equal(spawnSync('mount', ['-o', 'remount,bind,ro', dataDir]).status, 0);
      const h = await eventually(async () => {
        const r = await health();
        return r.status === 503 ? r : undefined;
      }, 30_000, 'healthz to report the read-only directory');
      assert.equal(h.body.status, 'degraded');
      assert.match(h.body.dataDir?.error ?? '', /^EROFS: /);
      const other = join(dataDir, 'ssh-only');
      const start = await startOnce({ ...gatewayEnv(dataDir), BERTH_LISTEN_SSH: 'null', BERTH_DATA_DIR: other });
      assert.equal(start.started, false);
      assert.match(start.output, new RegExp(`Berth cannot create its data directory ${other} \\(\\w+\\); create it, make it writable`), start.output);
      // On the existing, now read-only, directory the first write names its file and the error.
      const again = await startOnce({ ...gatewayEnv(dataDir), BERTH_LISTEN_SSH: 'null' });
      assert.equal(again.started, false);
      assert.match(again.output, new RegExp(`Berth cannot write ${dataDir}/\\S+ \\((EROFS|SQLITE_\\w+)\\)`), again.output);
      assert.doesNotMatch(again.output, /    at /, 'one line, no stack trace');
    } finally {
      spawnSync('umount', [dataDir]);
    }
    await eventually(async () => ((await health()).status === 200 ? true : undefined), 30_000, 'healthz to recover');
  });
});

describe('disk full: keys an older version left empty or cut short', () => {
  it('makes them anew instead of refusing every start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-cutshort-'));
    try {
      mkdirSync(join(dataDir, 'ssh'), { mode: 0o700 });
      writeFileSync(join(dataDir, 'session.key'), '', { mode: 0o600 });
      writeFileSync(join(dataDir, 'ssh', 'ssh_host_ed25519_key'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA', { mode: 0o600 });
      writeFileSync(join(dataDir, 'ssh', 'ssh_host_rsa_key'), '', { mode: 0o600 });
      const gw = await berthServe([], gatewayEnv(dataDir));
      try {
        assert.match(readFileSync(join(dataDir, 'session.key'), 'utf8'), /^[0-9a-f]{64}\n$/);
        for (const key of ['ssh_host_ed25519_key', 'ssh_host_rsa_key']) {
          assert.ok(!(ssh2.utils.parseKey(readFileSync(join(dataDir, 'ssh', key), 'utf8')) instanceof Error), key);
        }
        assert.ok(gw.lines.some((l) => String(l.msg).startsWith('the session secret was empty or cut short')));
      } finally {
        await stopServe(gw, 'SIGKILL');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('never overwrites a key that exists, and replaces only when asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-atomic-'));
    try {
      const path = join(dir, 'key');
      assert.equal(writeFileAtomically(path, 'first', { mode: 0o600 }), true);
      assert.equal(writeFileAtomically(path, 'second', { mode: 0o600 }), false);
      assert.equal(readFileSync(path, 'utf8'), 'first');
      assert.equal(writeFileAtomically(path, 'third', { mode: 0o600, replace: true }), true);
      assert.equal(readFileSync(path, 'utf8'), 'third');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(dir), ['key']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
