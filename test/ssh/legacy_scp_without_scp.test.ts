import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withScpCheck } from '../../src/ssh/scp.js';
import { BUSYBOX } from '../helpers/docker.js';
import { clientOptions, closeSetup, gatewayForAlice, run, sshArgs, type AliceSetup } from './harness.js';
import { forEachRuntime } from './runtimes.js';

/**
 * Guards the README's old claim that `scp -O` needs only `sh` and `cat`: the
 * legacy protocol runs the image's own scp, so in an image without one
 * (busybox) `scp -O` fails, and must say what to do; modern scp (over SFTP)
 * is unaffected by the check, and so is every other command.
 */
describe('which commands get the scp check', () => {
  const legacy = ['scp -t copied.bin', 'scp -f notes.txt', 'scp -v -r -d -t -- dir', 'scp -p -t .', 'scp -pt x', '  scp -f -- a b'];
  const other = ['scp', 'scp --help', 'scp file host:', 'echo scp -t x', 'scpx -t y', 'scp -r dir', 'ls -t', 'sh -c "scp -t x"'];
  for (const command of legacy) it(`checks ${JSON.stringify(command)}`, () => assert.match(withScpCheck(command), /^command -v scp .*; \s*scp -/));
  for (const command of other) it(`leaves ${JSON.stringify(command)} as it is`, () => assert.equal(withScpCheck(command), command));
});

await forEachRuntime((runtime) => {
  if (runtime.kind !== 'docker') return;
  describe('scp -O into an image without scp (docker, busybox)', () => {
    const setup = {} as AliceSetup;
    before(async () => {
      Object.assign(
        setup,
        await gatewayForAlice((config) => {
          config.environment.image = BUSYBOX;
          config.environment.command = ['httpd', '-f', '-p', String(config.environment.port)];
        }, runtime),
      );
    });
    after(() => closeSetup(setup));

    const copyArgs = () => [...clientOptions(setup.key), '-P', String(setup.gateway.port)];

    for (const [direction, args] of [
      ['up', (file: string) => [file, 'alice@127.0.0.1:copied.txt']],
      ['down', (file: string) => ['alice@127.0.0.1:/etc/hostname', `${file}.back`]],
    ] as const) {
      it(`fails ${direction} saying what to install or use instead`, { timeout: 120_000 }, async () => {
        const file = join(setup.scratch.dir, 'notes.txt');
        writeFileSync(file, 'notes\n');
        const result = await run('scp', ['-O', ...copyArgs(), ...args(file)], { timeoutMs: 60_000 });
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /berth: scp -O \(the legacy scp protocol, the default of OpenSSH before 9\.0\) needs an scp program in your environment; install openssh-client/);
      });
    }

    it('still runs a command that only mentions scp', async () => {
      const result = await run('ssh', sshArgs(setup.gateway, setup.key, 'alice', 'echo scp -t x'));
      assert.equal(result.stdout, 'scp -t x\n', result.stderr);
    });
  });
});
