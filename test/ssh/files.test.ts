import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clientOptions, closeSetup, gatewayForAlice, run, sshArgs, type ClientKey, type Gateway, type Scratch } from './harness.js';
import { forEachRuntime } from './runtimes.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The acceptance size: big enough that a flow-control or buffering fault shows, small enough for a test. */
const SIZE = 100 * 1024 * 1024;
const COPY_TIMEOUT_MS = 120_000;

await forEachRuntime((runtime) => {
  const skip = runtime.kind === 'local' && !existsSync('/usr/lib/openssh/sftp-server') && 'needs openssh-sftp-server on the host (local runtime)';
  describe(`files over ssh: sftp, scp, scp -O (${runtime.kind})`, { skip }, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;
    let original: Buffer;
    let file: string;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice(undefined, runtime));
      original = randomBytes(SIZE);
      file = join(scratch.dir, 'big.bin');
      writeFileSync(file, original);
    });
    after(() => closeSetup({ gateway, scratch }));

    const copyArgs = () => [...clientOptions(key), '-P', String(gateway.port)];

    it('sftp puts and gets a 100 MB file unchanged', async () => {
      const back = join(scratch.dir, 'sftp.back');
      const result = await run('sftp', ['-b', '-', ...copyArgs(), 'alice@127.0.0.1'], {
        input: `put ${file} sftp.bin\nget sftp.bin ${back}\n`,
        timeoutMs: COPY_TIMEOUT_MS,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(sha256(readFileSync(back)), sha256(original));
    });

    for (const [name, flags] of [['scp (over SFTP)', []], ['legacy scp -O', ['-O']]] as const) {
      it(`${name} copies a file in and out`, async () => {
        const remote = `copied${flags.join('')}.bin`;
        const back = join(scratch.dir, `${remote}.back`);
        const up = await run('scp', [...flags, ...copyArgs(), file, `alice@127.0.0.1:${remote}`], { timeoutMs: COPY_TIMEOUT_MS });
        assert.equal(up.code, 0, up.stderr);
        const down = await run('scp', [...flags, ...copyArgs(), `alice@127.0.0.1:${remote}`, back], { timeoutMs: COPY_TIMEOUT_MS });
        assert.equal(down.code, 0, down.stderr);
        assert.equal(sha256(readFileSync(back)), sha256(original));
        const inBerth = await run('ssh', sshArgs(gateway, key, 'alice', `sha256sum ${remote}`));
        assert.equal(inBerth.stdout.split(' ')[0], sha256(original));
      });
    }
  });

  describe(`sftp without an sftp-server in the berth (${runtime.kind})`, () => {
    let gateway: Gateway;
    let scratch: Scratch;
    let key: ClientKey;

    before(async () => {
      ({ gateway, scratch, key } = await gatewayForAlice((config) => {
        config.ssh.sftpServerPath = ['/nonexistent/sftp-server'];
      }, runtime));
    });
    after(() => closeSetup({ gateway, scratch }));

    it('says in one line what to install', async () => {
      const result = await run('sftp', ['-b', '-', ...clientOptions(key), '-P', String(gateway.port), 'alice@127.0.0.1'], { input: 'ls\n' });
      assert.notEqual(result.code, 0);
      const line = result.stderr.split('\n').find((l) => l.startsWith('berth: no sftp-server'));
      assert.ok(line, result.stderr);
      assert.match(line, /install openssh-sftp-server/);
      assert.match(line, /\/nonexistent\/sftp-server/);
    });
  });
});
