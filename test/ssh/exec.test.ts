import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeSetup, gatewayForAlice, run, sshArgs, sshCommandLine, type ClientKey, type Gateway, type Scratch } from './harness.js';
import { forEachRuntime } from './runtimes.js';

await forEachRuntime((runtime) => {
  describe(`ssh exec (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice((config) => {
        config.ssh.banner = 'Welcome to this Berth gateway\n';
      }, runtime));
    });
    after(() => closeSetup({ gateway, scratch }));

    it('keeps stdout and stderr apart, passes the exit status, and starts a stopped berth with a progress line', async () => {
      assert.equal(gateway.parts.spawner.status('alice').state, 'stopped');
      const first = await run('ssh', sshArgs(gateway, key, 'alice', 'echo hi; echo err >&2; exit 3'));
      assert.equal(first.code, 3);
      assert.equal(first.stdout, 'hi\n');
      // Steps that take a while (a container being created) get a line each, the outcome one of its own.
      assert.match(first.stderr, /^berth: starting your environment…(?: ready in \d+\.\d s\n|(?:\n {2}.+)+\n {2}ready in \d+\.\d s\n)/);
      assert.match(first.stderr, /\nerr\n$/);

      const again = await run('ssh', sshArgs(gateway, key, 'alice', 'echo hi; echo err >&2; exit 3'));
      assert.deepEqual([again.code, again.stdout, again.stderr], [3, 'hi\n', 'err\n'], 'a ready berth prints no progress');
    });

    it('starts one berth however many connections arrive at once', async () => {
      await gateway.parts.spawner.stop('alice', 'test');
      const results = await Promise.all(Array.from({ length: 6 }, () => run('ssh', sshArgs(gateway, key, 'alice', 'echo "$PORT"'))));
      assert.deepEqual(results.map((r) => r.code), [0, 0, 0, 0, 0, 0]);
      assert.equal(new Set(results.map((r) => r.stdout)).size, 1, 'every session ran in the same berth');
      assert.equal((await gateway.parts.runtime.list()).filter((b) => b.state === 'running').length, 1);
    });

    it('shows the configured banner before authentication', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'true', ['-o', 'LogLevel=INFO']));
      assert.match(result.stderr, /Welcome to this Berth gateway/);
    });

    it('refuses subsystems other than sftp', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'netconf', ['-s']));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /subsystem request failed/);
    });

    it('runs in the berth of the user, with BERTH_USER set', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'echo "$BERTH_USER"'));
      assert.equal(result.stdout, 'alice\n');
    });

    it('closes stdin on EOF, so `cmd < file` and pipes work', async () => {
      const input = Buffer.alloc(3 * 1024 * 1024, 'x');
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'wc -c'), { input });
      assert.equal(result.stdout.trim(), String(input.length));
      const file = join(scratch.dir, 'lines');
      writeFileSync(file, 'b\na\nc\n');
      const sorted = await run('sh', ['-c', `${sshCommandLine(gateway, key, 'alice', 'sort')} < ${file}`]);
      assert.equal(sorted.stdout, 'a\nb\nc\n');
    });

    it('passes binary output through unchanged', async () => {
      const result = await run('sh', ['-c', `${sshCommandLine(gateway, key, 'alice', 'head -c 1000000 /dev/zero | tr "\\0" "\\377"')} | sha256sum`]);
      const expected = createHash('sha256').update(Buffer.alloc(1_000_000, 0xff)).digest('hex');
      assert.equal(result.stdout.split(' ')[0], expected);
    });

    it('passes only allowlisted environment variables (LANG, LC_*)', async () => {
      const env = { ...process.env, LANG: 'C.UTF-8', LC_TIME: 'C', BERTH_TEST_SECRET: 'nope' };
      const result = await run(
        'ssh',
        sshArgs(gateway, key, 'alice', 'echo "$LANG|$LC_TIME|$BERTH_TEST_SECRET"', ['-o', 'SendEnv=LANG LC_TIME BERTH_TEST_SECRET']),
        { env },
      );
      assert.equal(result.stdout, 'C.UTF-8|C|\n');
    });

    it('reports a command killed by a signal as such, where the runtime can tell', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'kill -TERM $$', ['-o', 'LogLevel=DEBUG1']));
      if (runtime.engine || runtime.kind === 'kubernetes') {
        // The engine (Docker or Podman, and the Kubernetes API's exec status) reports an exec's end as a code only: 128 + SIGTERM, as a shell would show it.
        assert.equal(result.code, 143);
      } else {
        assert.equal(result.code, 255);
        assert.match(result.stderr, /rtype exit-signal/);
      }
    });

    it('counts open sessions in the sshSessions gauge and releases them', async () => {
      const { values } = await gateway.parts.metrics.sshSessions.get();
      assert.equal(values[0]?.value ?? 0, 0);
    });
  });

  describe(`ssh into a berth that cannot start (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice((config) => {
        config.environment.command = ['/bin/sh', '-c', 'echo "cannot find my config"; exit 7'];
      }, runtime));
    });
    after(() => closeSetup({ gateway, scratch }));

    it('says why, with the berth’s last output, and exits 255 without running the command', async () => {
      const result = await run('ssh', sshArgs(gateway, key, 'alice', 'echo ran'));
      assert.equal(result.code, 255);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^berth: starting your environment…(?: |(?:\n {2}.+)+\n {2})failed\nberth: .*code 7.*\n {2}\| cannot find my config\n$/);
    });
  });
});
